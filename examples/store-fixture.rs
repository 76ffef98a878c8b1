//! Writes `fixtures/store/schema-vN.redb`: a data file at schema version N with rows in every
//! table that existed at version N, as a Panoptes data file that lived through versions 1..N
//! would hold them:
//!
//!     cargo run --example store-fixture -- N
//!
//! The file is created at version 1 and given version 1's rows, migrated to version 2 and given
//! version 2's rows, and so on: each version's writer fills only the tables that version added,
//! in the layout they had at that version (restated here, as `migrations/` does), and the
//! migrations carry the older rows forward. The rows themselves are in `fixtures/store/rows.rs`,
//! which `src/store/migrate_tests.rs` reads back after migrating each fixture; before writing, they are
//! checked against today's domain types, so a fixture never holds bytes Panoptes never wrote.
//!
//! A new schema version adds: a `vN` writer below (a no-op if it only changes existing tables),
//! its entry in `WRITERS`, its rows in `rows.rs` and its check in `src/store/migrate_tests.rs`; then
//! `cargo run --example store-fixture -- N` commits the new fixture.

#[path = "../fixtures/store/rows.rs"]
mod rows;

use std::path::PathBuf;

use redb::{TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

type Error = Box<dyn std::error::Error>;
type Writer = fn(&WriteTransaction) -> Result<(), redb::Error>;

/// The writer of each version's new tables: `WRITERS[n - 1]` runs at version n.
const WRITERS: &[Writer] = &[v1, v2, v3, v4, v5, v6, v7, v8, v9];

fn main() -> Result<(), Error> {
    let version: u32 = std::env::args()
        .nth(1)
        .ok_or("usage: store-fixture VERSION")?
        .parse()?;
    if version == 0 || version as usize > WRITERS.len() {
        return Err(format!(
            "no rows for schema version {version}: this writer knows versions 1 to {} (add a writer for the new version)",
            WRITERS.len()
        )
        .into());
    }
    check_rows()?;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/store")
        .join(format!("schema-v{version}.redb"));
    if out.exists() {
        std::fs::remove_file(&out)?;
    }
    for (v, write) in (1..=version).zip(WRITERS) {
        panoptes::store::create_at_version(&out, v)?;
        let db = redb::Database::open(&out)?;
        let tx = db.begin_write()?;
        write(&tx)?;
        tx.commit()?;
    }
    println!("wrote {}", out.display());
    Ok(())
}

// ---- writers, one per schema version, with the tables as they were at that version ----------

fn v1(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit");
    let mut audit = tx.open_table(AUDIT)?;
    for (ms, seq, record) in rows::AUDIT {
        audit.insert((ms, seq), record.as_bytes())?;
    }
    tx.open_table(META)?.insert("audit_seq", rows::AUDIT_SEQ)?;
    Ok(())
}

fn v2(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
    const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
    const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
    let user = user_record();
    tx.open_table(USERS)?.insert(rows::USER, user.as_bytes())?;
    tx.open_table(TOKENS)?
        .insert(rows::TOKEN_HASH, rows::TOKEN_RECORD.as_bytes())?;
    tx.open_table(SESSIONS)?
        .insert(rows::SESSION_HASH, rows::SESSION_RECORD.as_bytes())?;
    Ok(())
}

fn v3(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const IDS: TableDefinition<&str, u32> = TableDefinition::new("probe_ids");
    const RESULTS: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("probe_results");
    const ROLLUPS: TableDefinition<(u32, u8, u64), &[u8]> = TableDefinition::new("probe_rollups");
    const STATE: TableDefinition<u32, &[u8]> = TableDefinition::new("probe_state");
    let mut ids = tx.open_table(IDS)?;
    for (name, id) in rows::PROBE_IDS {
        ids.insert(name, id)?;
    }
    let mut results = tx.open_table(RESULTS)?;
    for (id, ms, bytes) in rows::PROBE_RESULTS {
        results.insert((id, ms), bytes)?;
    }
    let mut rollups = tx.open_table(ROLLUPS)?;
    for (id, resolution, bucket, bytes) in rows::PROBE_ROLLUPS {
        rollups.insert((id, resolution, bucket), bytes)?;
    }
    let mut state = tx.open_table(STATE)?;
    for (id, json) in rows::PROBE_STATE {
        state.insert(id, json.as_bytes())?;
    }
    Ok(())
}

fn v4(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("periskop_keys");
    const RATE: TableDefinition<(&str, &str, u64), u64> = TableDefinition::new("periskop_rate");
    const INSTANCES: TableDefinition<(&str, &str), &[u8]> =
        TableDefinition::new("periskop_instances");
    const BASELINES: TableDefinition<(&str, &str, &str), u64> =
        TableDefinition::new("periskop_baselines");
    let mut keys = tx.open_table(KEYS)?;
    for (service, key, json) in rows::PERISKOP_KEYS {
        keys.insert((service, key), json.as_bytes())?;
    }
    let mut rate = tx.open_table(RATE)?;
    for (service, key, minute, n) in rows::PERISKOP_RATE {
        rate.insert((service, key, minute), n)?;
    }
    let mut instances = tx.open_table(INSTANCES)?;
    for (service, instance, json) in rows::PERISKOP_INSTANCES {
        instances.insert((service, instance), json.as_bytes())?;
    }
    let mut baselines = tx.open_table(BASELINES)?;
    for (service, instance, key, n) in rows::PERISKOP_BASELINES {
        baselines.insert((service, instance, key), n)?;
    }
    Ok(())
}

fn v5(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_inbox");
    const ISSUES: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_issues");
    const GROUPS: TableDefinition<(u64, &str), u64> = TableDefinition::new("sentry_groups");
    const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("sentry_events");
    const EVENT_ISSUE: TableDefinition<&str, u64> = TableDefinition::new("sentry_event_issue");
    const ISSUE_EVENTS: TableDefinition<(u64, u64, &str), ()> =
        TableDefinition::new("sentry_issue_events");
    const EVENT_TIMES: TableDefinition<(u64, &str), u64> =
        TableDefinition::new("sentry_event_times");
    const ISSUE_USERS: TableDefinition<(u64, &str), ()> =
        TableDefinition::new("sentry_issue_users");
    const ATTACHMENTS: TableDefinition<(&str, u32), &[u8]> =
        TableDefinition::new("sentry_attachments");
    const COUNTS: TableDefinition<(u64, &str, &str), u64> = TableDefinition::new("sentry_counts");
    let (issue, event, ms) = (
        rows::SENTRY_ISSUE,
        rows::SENTRY_EVENT,
        rows::SENTRY_RECEIVED_MS,
    );
    let mut inbox = tx.open_table(INBOX)?;
    for (seq, row) in rows::SENTRY_INBOX {
        inbox.insert(seq, row)?;
    }
    let mut issues = tx.open_table(ISSUES)?;
    for (id, json) in rows::SENTRY_ISSUES {
        issues.insert(id, json.as_bytes())?;
    }
    tx.open_table(GROUPS)?
        .insert((rows::SENTRY_PROJECT, rows::SENTRY_GROUP), issue)?;
    tx.open_table(EVENTS)?
        .insert(event, rows::SENTRY_EVENT_RECORD)?;
    tx.open_table(EVENT_ISSUE)?.insert(event, issue)?;
    tx.open_table(ISSUE_EVENTS)?
        .insert((issue, ms, event), ())?;
    tx.open_table(EVENT_TIMES)?.insert((ms, event), issue)?;
    tx.open_table(ISSUE_USERS)?
        .insert((issue, rows::SENTRY_USER), ())?;
    tx.open_table(ATTACHMENTS)?
        .insert((event, 0), rows::SENTRY_ATTACHMENT)?;
    let mut counts = tx.open_table(COUNTS)?;
    for (project, release, counter, n) in rows::SENTRY_COUNTS {
        counts.insert((project, release, counter), n)?;
    }
    Ok(())
}

/// Version 6 keyed Sentry events, their issue, time index and attachments by project: it moved
/// version 5's rows and added no table, so there is nothing new to write.
fn v6(_: &WriteTransaction) -> Result<(), redb::Error> {
    Ok(())
}

fn v7(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const INSTANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_instances");
    const HISTORY: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("alerts_history");
    const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_groups");
    const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_silences");
    const NOTIFICATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts_notifications");
    let mut instances = tx.open_table(INSTANCES)?;
    for (fingerprint, json) in rows::ALERTS_INSTANCES {
        instances.insert(fingerprint, json.as_bytes())?;
    }
    let mut history = tx.open_table(HISTORY)?;
    for (ms, fingerprint, json) in rows::ALERTS_HISTORY {
        history.insert((ms, fingerprint), json.as_bytes())?;
    }
    let mut groups = tx.open_table(GROUPS)?;
    for (key, json) in rows::ALERTS_GROUPS {
        groups.insert(key, json.as_bytes())?;
    }
    let mut silences = tx.open_table(SILENCES)?;
    for (id, json) in rows::ALERTS_SILENCES {
        silences.insert(id, json.as_bytes())?;
    }
    let mut notifications = tx.open_table(NOTIFICATIONS)?;
    for (id, json) in rows::ALERTS_NOTIFICATIONS {
        notifications.insert(id, json.as_bytes())?;
    }
    Ok(())
}

fn v8(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const PAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("oncall_pages");
    const OVERRIDES: TableDefinition<u64, &[u8]> = TableDefinition::new("oncall_overrides");
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("oncall_meta");
    let mut pages = tx.open_table(PAGES)?;
    for (id, json) in rows::ONCALL_PAGES {
        pages.insert(id, json.as_bytes())?;
    }
    let mut overrides = tx.open_table(OVERRIDES)?;
    for (id, json) in rows::ONCALL_OVERRIDES {
        overrides.insert(id, json.as_bytes())?;
    }
    let mut meta = tx.open_table(META)?;
    meta.insert("link_key", rows::ONCALL_LINK_KEY.as_slice())?;
    Ok(())
}

fn v9(tx: &WriteTransaction) -> Result<(), redb::Error> {
    const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("status_incidents");
    const SUBSCRIBERS: TableDefinition<&str, &[u8]> = TableDefinition::new("status_subscribers");
    const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("status_outbox");
    let mut incidents = tx.open_table(INCIDENTS)?;
    for (id, json) in rows::STATUS_INCIDENTS {
        incidents.insert(id, json.as_bytes())?;
    }
    let mut subscribers = tx.open_table(SUBSCRIBERS)?;
    for (token, json) in rows::STATUS_SUBSCRIBERS {
        subscribers.insert(token, json.as_bytes())?;
    }
    let mut outbox = tx.open_table(OUTBOX)?;
    for (id, json) in rows::STATUS_OUTBOX {
        outbox.insert(id, json.as_bytes())?;
    }
    Ok(())
}

fn user_record() -> String {
    format!(
        r#"{{"password_hash":"{}","created_at_ms":{}}}"#,
        rows::USER_HASH,
        rows::USER_CREATED_MS
    )
}

// ---- the rows are what Panoptes writes ------------------------------------------------------

/// Every row decodes with today's domain type and encodes back to the same bytes.
fn check_rows() -> Result<(), Error> {
    use panoptes::store::{AuditRecord, SessionRecord, TokenRecord, UserRecord};
    for (_, _, json) in rows::AUDIT {
        same_json::<AuditRecord>("audit", json)?;
    }
    // Written before roles existed: today's records read them as an admin, the user enabled.
    let admin = serde_json::Value::from("admin");
    same_json_since::<UserRecord>(
        "user",
        &user_record(),
        &[("role", admin.clone()), ("disabled", false.into())],
    )?;
    if !panoptes::auth::verify_password(rows::USER_HASH, rows::USER_PASSWORD) {
        let fresh = panoptes::auth::hash_password(rows::USER_PASSWORD)?;
        return Err(
            format!("USER_HASH is not a hash of USER_PASSWORD; one that is: {fresh}").into(),
        );
    }
    same_json_since::<TokenRecord>("token", rows::TOKEN_RECORD, &[("role", admin)])?;
    same_hash("token", rows::TOKEN_SECRET, rows::TOKEN_HASH)?;
    same_json::<SessionRecord>("session", rows::SESSION_RECORD)?;
    same_hash("session", rows::SESSION_SECRET, rows::SESSION_HASH)?;
    check_probe_rows()?;
    check_periskop_rows()?;
    check_sentry_rows()?;
    check_alert_rows()?;
    check_oncall_rows()?;
    check_status_rows()
}

fn check_probe_rows() -> Result<(), Error> {
    use panoptes::probe::rollup::{ResultRecord, Rollup};
    for (id, ms, bytes) in rows::PROBE_RESULTS {
        let r =
            ResultRecord::decode(bytes).ok_or(format!("result ({id}, {ms}) does not decode"))?;
        if r.encode() != bytes {
            return Err(format!("result ({id}, {ms}) encodes as {:?}", r.encode()).into());
        }
    }
    for (id, res, bucket, bytes) in rows::PROBE_ROLLUPS {
        let r = Rollup::decode(bytes)
            .ok_or(format!("roll-up ({id}, {res}, {bucket}) does not decode"))?;
        if r.encode() != bytes {
            return Err(format!(
                "roll-up ({id}, {res}, {bucket}) encodes as {:?}",
                r.encode()
            )
            .into());
        }
    }
    for (id, json) in rows::PROBE_STATE {
        // The snapshot type is private to the probe engine; its parts are not.
        let v: serde_json::Value = serde_json::from_str(json)?;
        let fields: Vec<&str> = v
            .as_object()
            .ok_or("a state snapshot is an object")?
            .keys()
            .map(String::as_str)
            .collect();
        let want = [
            "cert_expires_at_ms",
            "last",
            "last_push_ms",
            "machine",
            "state",
        ];
        if fields != want {
            return Err(format!("state {id} has fields {fields:?}, not {want:?}").into());
        }
        same_json::<panoptes::probe::state::Machine>("machine", &v["machine"].to_string())?;
        same_json::<panoptes::probe::LastCheck>("last check", &v["last"].to_string())?;
        same_json::<panoptes::probe::state::State>("state", &v["state"].to_string())?;
    }
    Ok(())
}

fn check_periskop_rows() -> Result<(), Error> {
    use panoptes::periskop::aggregate::{InstanceMeta, KeyState};
    for (_, key, json) in rows::PERISKOP_KEYS {
        same_json::<KeyState>(key, json)?;
    }
    for (_, instance, json) in rows::PERISKOP_INSTANCES {
        same_json::<InstanceMeta>(instance, json)?;
    }
    Ok(())
}

fn check_sentry_rows() -> Result<(), Error> {
    use panoptes::sentry::issues::IssueRecord;
    use panoptes::sentry::record::{self, AttachmentHeader, EventHeader};
    for (seq, row) in rows::SENTRY_INBOX {
        let (h, payload) = record::decode_row(row).ok_or(format!("inbox row {seq}"))?;
        if record::encode_row(&h, payload) != row {
            return Err(format!("inbox row {seq} is not as Panoptes frames it").into());
        }
    }
    for (id, json) in rows::SENTRY_ISSUES {
        same_json::<IssueRecord>(&format!("issue {id}"), json)?;
    }
    let (h, payload) = record::split_record::<EventHeader>(rows::SENTRY_EVENT_RECORD)
        .ok_or("the event record has no header line")?;
    if record::with_header(&h, payload) != rows::SENTRY_EVENT_RECORD
        || h.project != rows::SENTRY_PROJECT
        || h.received_ms != rows::SENTRY_RECEIVED_MS
    {
        return Err("the event record is not as Panoptes frames it".into());
    }
    let event: serde_json::Value = serde_json::from_slice(payload)?;
    if event["event_id"] != rows::SENTRY_EVENT {
        return Err("the event record holds another event".into());
    }
    let (h, payload) = record::split_record::<AttachmentHeader>(rows::SENTRY_ATTACHMENT)
        .ok_or("the attachment record has no header line")?;
    if record::with_header(&h, payload) != rows::SENTRY_ATTACHMENT || h.size != payload.len() as u64
    {
        return Err("the attachment record is not as Panoptes frames it".into());
    }
    Ok(())
}

/// On-call stores `serde_json::to_vec` of its pages and overrides: byte for byte.
fn check_oncall_rows() -> Result<(), Error> {
    use panoptes::oncall::page::Page;
    use panoptes::oncall::rotation::Override;
    for (id, json) in rows::ONCALL_PAGES {
        let p: Page = same_bytes("page", json)?;
        if p.id != id {
            return Err(format!("page {id}: its record says {}", p.id).into());
        }
    }
    for (id, json) in rows::ONCALL_OVERRIDES {
        let o: Override = same_bytes("override", json)?;
        if o.id != id {
            return Err(format!("override {id}: its record says {}", o.id).into());
        }
    }
    Ok(())
}

/// The status pages store `serde_json::to_vec` of their incidents, subscribers and mails: byte
/// for byte, each under the key the engine gives it.
fn check_status_rows() -> Result<(), Error> {
    use panoptes::statuspage::model::Incident;
    use panoptes::statuspage::subscribers::{OutMail, Subscriber};
    for (id, json) in rows::STATUS_INCIDENTS {
        let i: Incident = same_bytes("status incident", json)?;
        if i.id != id {
            return Err(format!("status incident {id}: its record says {}", i.id).into());
        }
    }
    for (token, json) in rows::STATUS_SUBSCRIBERS {
        let s: Subscriber = same_bytes("status subscriber", json)?;
        if s.token != token {
            return Err(format!("status subscriber {token}: its record says {}", s.token).into());
        }
    }
    for (id, json) in rows::STATUS_OUTBOX {
        let m: OutMail = same_bytes("status mail", json)?;
        if m.id != id {
            return Err(format!("status mail {id}: its record says {}", m.id).into());
        }
    }
    Ok(())
}

/// Alerting stores `serde_json::to_vec` of its records, so these rows are checked byte for byte,
/// and their keys against what the engine keys them by.
fn check_alert_rows() -> Result<(), Error> {
    use panoptes::alerts::book::Resolved;
    use panoptes::alerts::groups::Group;
    use panoptes::alerts::outbox::Record;
    use panoptes::alerts::silences::Silence;
    use panoptes::alerts::state::{Instance, fingerprint};
    for (fp, json) in rows::ALERTS_INSTANCES {
        let i: Instance = same_bytes("alert instance", json)?;
        if i.fingerprint != fp || fingerprint(&i.labels) != fp {
            return Err(format!(
                "alert instance {fp}: its labels' fingerprint is {}",
                fingerprint(&i.labels)
            )
            .into());
        }
    }
    for (ms, fp, json) in rows::ALERTS_HISTORY {
        let r: Resolved = same_bytes("alert history", json)?;
        if r.resolved_at_ms != ms || r.fingerprint != fp || fingerprint(&r.labels) != fp {
            return Err(format!("alert history ({ms}, {fp}) is keyed by another alert").into());
        }
    }
    for (key, json) in rows::ALERTS_GROUPS {
        let g: Group = same_bytes("alert group", json)?;
        if g.key != key {
            return Err(format!("alert group {key} holds group {}", g.key).into());
        }
        for (fp, a) in &g.alerts {
            if a.fingerprint != *fp || fingerprint(&a.labels) != *fp {
                return Err(format!("alert group {key}: alert {fp} is keyed wrongly").into());
            }
        }
    }
    for (id, json) in rows::ALERTS_SILENCES {
        let s: Silence = same_bytes("silence", json)?;
        if s.id != id {
            return Err(format!("silence {id} holds silence {}", s.id).into());
        }
    }
    for (id, json) in rows::ALERTS_NOTIFICATIONS {
        let r: Record = same_bytes("notification", json)?;
        if r.id != id {
            return Err(format!("notification {id} holds notification {}", r.id).into());
        }
    }
    Ok(())
}

/// `json` decodes as `T`, and `T` encodes back to exactly these bytes (field order included).
fn same_bytes<T: Serialize + DeserializeOwned>(what: &str, json: &str) -> Result<T, Error> {
    let decoded: T = serde_json::from_str(json).map_err(|e| format!("{what}: {e} in {json}"))?;
    let got = serde_json::to_string(&decoded)?;
    if got != json {
        return Err(format!("{what}: encodes as {got}, the fixture has {json}").into());
    }
    Ok(decoded)
}

/// `json` decodes as `T`, and `T` encodes back to the same JSON (no field missing or extra).
fn same_json<T: Serialize + DeserializeOwned>(what: &str, json: &str) -> Result<(), Error> {
    let decoded: T = serde_json::from_str(json).map_err(|e| format!("{what}: {e} in {json}"))?;
    let want: serde_json::Value = serde_json::from_str(json)?;
    let got = serde_json::to_value(&decoded)?;
    if got != want {
        return Err(format!("{what}: encodes as {got}, the fixture has {want}").into());
    }
    Ok(())
}

/// Like [`same_json`], for a record written before fields `added` existed: today's type reads
/// them as the values given, and encodes back to the fixture's JSON plus exactly those.
fn same_json_since<T: Serialize + DeserializeOwned>(
    what: &str,
    json: &str,
    added: &[(&str, serde_json::Value)],
) -> Result<(), Error> {
    let decoded: T = serde_json::from_str(json).map_err(|e| format!("{what}: {e} in {json}"))?;
    let mut want: serde_json::Value = serde_json::from_str(json)?;
    let fields = want
        .as_object_mut()
        .ok_or(format!("{what}: not a JSON object"))?;
    for (name, value) in added {
        if fields.insert(name.to_string(), value.clone()).is_some() {
            return Err(format!("{what}: the fixture already has `{name}`").into());
        }
    }
    let got = serde_json::to_value(&decoded)?;
    if got != want {
        return Err(
            format!("{what}: encodes as {got}, the fixture with defaults is {want}").into(),
        );
    }
    Ok(())
}

fn same_hash(what: &str, secret: &str, hash: &str) -> Result<(), Error> {
    let real = panoptes::auth::sha256_hex(secret);
    if real != hash {
        return Err(format!("{what}: the SHA-256 of the secret is {real}").into());
    }
    Ok(())
}
