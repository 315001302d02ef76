package console

import "time"

// SetReportClock makes the report routes evaluate the NIS2 clocks at the
// times now returns, until the returned function restores the real clock.
func SetReportClock(now func() time.Time) (restore func()) {
	reportNow = now
	return func() { reportNow = time.Now }
}
