//! Writes `fixtures/store/schema-vN.redb`: a data file at schema version N with three audit
//! entries, as panoptes at that version would have left it. Run it before adding migration N+1:
//!
//!     cargo run --example store-fixture -- N
//!
//! The tables are spelled out here as they were at version 1 (the audit log has not changed
//! since); a later fixture that needs different rows adds its own case.

use std::path::PathBuf;

use redb::TableDefinition;

const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version: u32 = std::env::args()
        .nth(1)
        .ok_or("usage: store-fixture VERSION")?
        .parse()?;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/store")
        .join(format!("schema-v{version}.redb"));
    if out.exists() {
        std::fs::remove_file(&out)?;
    }
    panoptes::store::create_at_version(&out, version)?;
    let db = redb::Database::open(&out)?;
    let tx = db.begin_write()?;
    {
        let mut audit = tx.open_table(AUDIT)?;
        for i in 0..3u64 {
            let entry =
                format!(r#"{{"actor":"fixture","action":"fixture.{i}","detail":"v{version}"}}"#);
            audit.insert((1_700_000_000_000 + i, i + 1), entry.as_bytes())?;
        }
        let mut meta = tx.open_table(META)?;
        meta.insert("audit_seq", 3)?;
    }
    tx.commit()?;
    drop(db);
    println!("wrote {}", out.display());
    Ok(())
}
