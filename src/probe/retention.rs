//! Expiry of raw results and roll-ups (`probing.retention`), as a pruner of the shared
//! retention task.

use std::sync::Arc;

use tokio::sync::watch;

use super::config::ProbingConfig;
use super::rollup::Resolution;
use crate::config::Duration;
use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::Node;
use crate::store::probes::ProbeWrite;
use crate::store::retention::{PruneFuture, Pruner, in_batches};
use crate::store::{Store, Write};

pub struct ProbePruner {
    pub settings: watch::Receiver<Arc<ProbingConfig>>,
}

impl Pruner for ProbePruner {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a> {
        let keep = self.settings.borrow().retention.clone();
        Box::pin(async move {
            // Every id ever assigned, so data of removed monitors expires too.
            let ids: Vec<u32> = store.probe_ids()?.into_values().collect();
            let mut total = 0;
            for (resolution, k) in [
                (None, keep.raw),
                (Some(Resolution::Minute as u8), keep.minute),
                (Some(Resolution::Hour as u8), keep.hour),
                (Some(Resolution::Day as u8), keep.day),
            ] {
                let Some(d) = k.0 else { continue };
                let before_ms = now_ms.saturating_sub(d.get().as_millis() as u64);
                for chunk in ids.chunks(64) {
                    total += in_batches(store, batch, |limit| {
                        Write::Probe(ProbeWrite::Prune {
                            ids: chunk.to_vec(),
                            resolution,
                            before_ms,
                            limit,
                        })
                    })
                    .await?;
                }
            }
            Ok(total)
        })
    }
}

/// How long each resolution is kept; `forever` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep(pub Option<Duration>);

impl Decode for Keep {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a duration like 14d, or `forever`", |s| {
            if s == "forever" {
                Ok(Keep(None))
            } else {
                s.parse::<Duration>().map(|d| Keep(Some(d)))
            }
        })
    }
}

crate::config_section! {
    pub struct ProbeRetention {
        pub raw: Keep = Keep(Some(Duration::secs(14 * 86_400))),
        pub minute: Keep = Keep(Some(Duration::secs(14 * 86_400))),
        pub hour: Keep = Keep(Some(Duration::secs(400 * 86_400))),
        pub day: Keep = Keep(None),
    }
}
