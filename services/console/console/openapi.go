package console

import (
	"net/http"
	"strconv"

	"github.com/c981/c981/schemas"
)

// OpenAPI is the OpenAPI 3 description of the console API, served at
// /api/openapi.json: schemas/openapi.json, the one published copy.
var OpenAPI = schemas.OpenAPI

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(OpenAPI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(OpenAPI)
}
