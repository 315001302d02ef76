-- The enrichment context 0001 did not keep, so that stored events carry
-- everything the correlation rules read (`c981 backtest` replays them):
-- the maintenance window's allowed operations, sources and users, the
-- asset names, the source's SL-T and criticality, and the matched flow id.
-- One ALTER statement: it is applied as a whole or not at all.
ALTER TABLE events
    ADD COLUMN src_asset_name String,
    ADD COLUMN src_sl_t UInt8,
    ADD COLUMN src_criticality String,
    ADD COLUMN dst_asset_name String,
    ADD COLUMN flow_id String,
    ADD COLUMN maint_allowed_ops Array(String),
    ADD COLUMN maint_allowed_sources Array(String),
    ADD COLUMN maint_allowed_users Array(String);
