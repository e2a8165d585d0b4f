import type { CapabilitySchema } from '../registry/index.ts'

// Alerts (src/alerts): fields, farmers, their subscriptions, village officers; alert lifecycle,
// per-recipient deliveries, SMS written before they are handed to the outbox, silences, the
// recent readings rules look back on, daily weather for the irrigation advisor, and events
// waiting to be exported to InfluxDB.
// The SQL text is kept byte for byte as it shipped: sqlite_master stores it, and an upgraded
// file's schema must equal a fresh one's (tests/registry/migrate.test.ts).
export const alertsTables: CapabilitySchema = {
  capability: 'alerts',
  legacyUserVersion: 4,
  migrations: [
    `CREATE TABLE fields (
     id            TEXT PRIMARY KEY,
     village       TEXT NOT NULL REFERENCES villages(id),
     name          TEXT NOT NULL,
     crop          TEXT NOT NULL,
     stage         TEXT,
     planted_at_ms INTEGER,
     area_ha       REAL NOT NULL,
     lat           REAL,
     lon           REAL,
     devices       TEXT NOT NULL DEFAULT '[]',
     created_at_ms INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX fields_village_name ON fields(village, name COLLATE NOCASE);
   CREATE TABLE farmers (
     id            TEXT PRIMARY KEY,
     name          TEXT NOT NULL,
     phone         TEXT NOT NULL UNIQUE,
     village       TEXT REFERENCES villages(id),
     language      TEXT NOT NULL DEFAULT 'id',
     quiet_start   TEXT NOT NULL,
     quiet_end     TEXT NOT NULL,
     stopped       INTEGER NOT NULL DEFAULT 0,
     created_at_ms INTEGER NOT NULL
   );
   CREATE TABLE subscriptions (
     farmer TEXT NOT NULL REFERENCES farmers(id),
     field  TEXT NOT NULL REFERENCES fields(id),
     PRIMARY KEY (farmer, field)
   );
   CREATE TABLE officers (
     id       TEXT PRIMARY KEY,
     name     TEXT NOT NULL,
     phone    TEXT NOT NULL,
     village  TEXT NOT NULL REFERENCES villages(id),
     language TEXT NOT NULL DEFAULT 'id'
   );
   CREATE TABLE alerts (
     id              INTEGER PRIMARY KEY AUTOINCREMENT,
     rule            TEXT NOT NULL,
     subject         TEXT NOT NULL,
     category        TEXT NOT NULL,
     village         TEXT NOT NULL,
     field           TEXT,
     device          TEXT,
     severity        TEXT NOT NULL,
     state           TEXT NOT NULL,
     value           REAL,
     threshold       REAL,
     started_at_ms   INTEGER NOT NULL,
     fired_at_ms     INTEGER,
     resolved_at_ms  INTEGER,
     updated_at_ms   INTEGER NOT NULL,
     acked_at_ms     INTEGER,
     acked_by        TEXT,
     escalated_at_ms INTEGER
   );
   CREATE UNIQUE INDEX alerts_one_active ON alerts(rule, subject) WHERE state IN ('pending', 'firing');
   CREATE INDEX alerts_state ON alerts(state);
   CREATE TABLE alert_deliveries (
     alert          INTEGER NOT NULL REFERENCES alerts(id),
     recipient      TEXT NOT NULL,
     notified_at_ms INTEGER NOT NULL,
     count          INTEGER NOT NULL,
     resolved_sent  INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (alert, recipient)
   );
   CREATE TABLE alert_recipients (
     recipient    TEXT PRIMARY KEY,
     seq          INTEGER NOT NULL,
     last_sent_ms INTEGER
   );
   CREATE TABLE alert_messages (
     id             INTEGER PRIMARY KEY AUTOINCREMENT,
     key            TEXT NOT NULL UNIQUE,
     recipient      TEXT NOT NULL,
     phone          TEXT NOT NULL,
     text           TEXT NOT NULL,
     critical       INTEGER NOT NULL,
     not_before_ms  INTEGER,
     alerts         TEXT NOT NULL,
     created_at_ms  INTEGER NOT NULL,
     enqueued_at_ms INTEGER
   );
   CREATE INDEX alert_messages_unsent ON alert_messages(id) WHERE enqueued_at_ms IS NULL;
   CREATE TABLE silences (
     id            INTEGER PRIMARY KEY AUTOINCREMENT,
     matchers      TEXT NOT NULL,
     starts_at_ms  INTEGER NOT NULL,
     ends_at_ms    INTEGER NOT NULL,
     created_by    TEXT NOT NULL,
     comment       TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL
   );
   CREATE TABLE recent_readings (
     device   TEXT NOT NULL,
     sensor   TEXT NOT NULL,
     quantity TEXT NOT NULL,
     time_ms  INTEGER NOT NULL,
     village  TEXT NOT NULL,
     value    REAL NOT NULL,
     PRIMARY KEY (device, quantity, time_ms, sensor)
   ) WITHOUT ROWID;
   CREATE INDEX recent_readings_village ON recent_readings(village, quantity, time_ms);
   CREATE INDEX recent_readings_time ON recent_readings(time_ms);
   CREATE TABLE device_seen (
     device       TEXT PRIMARY KEY,
     village      TEXT NOT NULL,
     last_ms      INTEGER NOT NULL,
     status       TEXT,
     status_at_ms INTEGER
   );
   CREATE TABLE weather_days (
     village      TEXT NOT NULL,
     day_start_ms INTEGER NOT NULL,
     summary      TEXT NOT NULL,
     closed       INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (village, day_start_ms)
   );
   CREATE TABLE irrigation_advice (
     field        TEXT NOT NULL,
     day_start_ms INTEGER NOT NULL,
     detail       TEXT NOT NULL,
     PRIMARY KEY (field, day_start_ms)
   );
   CREATE TABLE alert_events (
     id             INTEGER PRIMARY KEY AUTOINCREMENT,
     measurement    TEXT NOT NULL,
     time_ms        INTEGER NOT NULL,
     tags           TEXT NOT NULL,
     fields         TEXT NOT NULL,
     exported_at_ms INTEGER
   );
   CREATE INDEX alert_events_unexported ON alert_events(id) WHERE exported_at_ms IS NULL;`,
    // Issue 13, "fields know their soil and season": a field's soil (FAO-56 Table 19 texture or
    // measured FC/WP, root depth, p, probe calibration; JSON), its variety's season length, its own
    // threshold overrides (JSON); and the water farmers applied (SUDAH / AIR <mm> replies) or a probe
    // saw arrive, which restarts the irrigation balance.
    `ALTER TABLE fields ADD COLUMN soil TEXT;
   ALTER TABLE fields ADD COLUMN season_days INTEGER;
   ALTER TABLE fields ADD COLUMN thresholds TEXT;
   CREATE TABLE field_water (
     id     INTEGER PRIMARY KEY AUTOINCREMENT,
     field  TEXT NOT NULL REFERENCES fields(id),
     at_ms  INTEGER NOT NULL,
     mm     REAL,
     source TEXT NOT NULL
   );
   CREATE INDEX field_water_field ON field_water(field, at_ms);`,
    // Issue 15: the rules' history is kept in memory (src/alerts/history.ts) and journalled here,
    // one row per batch of readings (its series as JSON, Float64 (series, time, value) triples);
    // recent_readings is read once, converted into one such row, and left empty.
    `CREATE TABLE alert_history (
     id      INTEGER PRIMARY KEY,
     max_ms  INTEGER NOT NULL,
     series  TEXT NOT NULL,
     samples BLOB NOT NULL
   );
   CREATE INDEX alert_history_max ON alert_history(max_ms);`,
    // An event InfluxDB refuses for good (not a retryable failure) is set aside with InfluxDB's
    // reason, so it no longer holds back the events after it.
    `ALTER TABLE alert_events ADD COLUMN export_error TEXT;`,
    // Issue 17 scope 6, farmers open a field's valve by SMS (AIRI / TUTUP): the field's valve device
    // and its limits (JSON), and each farmer's valve command (src/commands keeps the command itself)
    // with its outcome, so a failure gets its follow-up SMS once, also after a restart.
    `ALTER TABLE fields ADD COLUMN valve TEXT;
   CREATE TABLE valve_requests (
     command_id     TEXT PRIMARY KEY,
     field          TEXT NOT NULL REFERENCES fields(id),
     farmer         TEXT NOT NULL REFERENCES farmers(id),
     kind           TEXT NOT NULL,
     minutes        INTEGER,
     at_ms          INTEGER NOT NULL,
     outcome        TEXT,
     notified_at_ms INTEGER
   );
   CREATE INDEX valve_requests_field ON valve_requests(field, at_ms);
   CREATE INDEX valve_requests_open ON valve_requests(command_id) WHERE outcome IS NULL;`,
    // Issue 13: what a class-configured field's probe taught the dry rule (its field-capacity
    // readings, θFC − θWP from the slowing of its drying; JSON, src/alerts/rules/moisture.ts
    // LearnedSoil), so a restart does not send it back to the class's ranges.
    `CREATE TABLE field_soil_learned (
     field         TEXT PRIMARY KEY REFERENCES fields(id),
     learned       TEXT NOT NULL,
     updated_at_ms INTEGER NOT NULL
   );`,
  ],
}
