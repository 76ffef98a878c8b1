//! Native crash uploads (`/minidump/`): the dump is stored as an attachment of an event built
//! from the form's `sentry` JSON (or `sentry[...]` fields), or of a bare native crash event.

use bytes::Bytes;
use serde_json::Value;

use super::ingest::{Plan, event_id_of};
use super::record::{AttachmentHeader, with_header};
use super::{Accepted, Ingest, IngestError, SentryAuth, event};

impl Ingest {
    /// `POST /api/{project}/minidump/`: the minidump is stored as an attachment of an event made
    /// from the form's `sentry` JSON (or `sentry[...]` fields), or of a bare native crash event.
    pub async fn minidump(
        &self,
        path_project: u64,
        auth: Option<SentryAuth>,
        mut event: Value,
        files: Vec<(String, Option<String>, Bytes, String)>,
    ) -> Result<Accepted, IngestError> {
        let cfg = self.settings();
        let project = self.project(&cfg, Some(path_project), auth.as_ref())?;
        if !files.iter().any(|f| f.3 == "event.minidump") {
            return Err(IngestError::InvalidEvent(
                "no `upload_file_minidump` file in the form".into(),
            ));
        }
        for f in &files {
            if f.2.len() as u64 > cfg.ingest.max_attachment_bytes {
                return Err(IngestError::TooLarge(format!(
                    "{} is larger than {} bytes",
                    f.0, cfg.ingest.max_attachment_bytes
                )));
            }
        }
        if !event.is_object() {
            event = Value::Object(Default::default());
        }
        if event::exceptions(&event).is_empty() {
            event["exception"] = serde_json::json!({"values": [{
                "type": "Minidump",
                "value": "native crash (unsymbolicated minidump)",
                "mechanism": {"type": "minidump", "handled": false, "synthetic": true}
            }]});
        }
        if event.get("level").is_none() {
            event["level"] = Value::from("fatal");
        }
        if event.get("platform").is_none() {
            event["platform"] = Value::from("native");
        }
        self.count_item(project.id, "event");
        let now = self.inner.clock.now_ms();
        let id = event_id_of(&event);
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let mut plan = Plan::default();
        let taken = self.plan_event(&mut plan, &project, id.clone(), &event, &payload, now);
        let mut size = payload.len();
        // The dump follows its event: not stored when the quota refused the event.
        for (name, content_type, data, attachment_type) in files.into_iter().filter(|_| taken) {
            self.count_item(project.id, "attachment");
            size += data.len();
            let header = AttachmentHeader {
                filename: name,
                content_type,
                attachment_type: Some(attachment_type),
                size: data.len() as u64,
            };
            plan.attachments
                .push((id.clone(), with_header(&header, &data)));
        }
        self.commit(project.id, plan, size).await
    }
}
