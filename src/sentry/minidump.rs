//! Native crash uploads (`/minidump/`): the dump is stored as an attachment of an event built
//! from the form's `sentry` JSON (or `sentry[...]` fields), or of a bare native crash event.
//! The form is parsed on the blocking pool; its fields other than files are bounded together by
//! `ingest.max_event_bytes` (they become the event), each file by `ingest.max_attachment_bytes`.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::budget::RawBody;
use super::config::ProjectConfig;
use super::plan::{Plan, blocking, decode};
use super::record::{AttachmentHeader, with_header};
use super::{Accepted, Ingest, IngestError, SentryAuth, event};

impl Ingest {
    /// `POST /api/{project}/minidump/`: the minidump is stored as an attachment of an event made
    /// from the form's `sentry` JSON (or `sentry[...]` fields), or of a bare native crash event.
    /// Crashpad may gzip the whole form: that is undone first.
    pub async fn minidump(
        &self,
        path_project: u64,
        auth: Option<SentryAuth>,
        content_type: String,
        body: RawBody,
    ) -> Result<Accepted, IngestError> {
        let this = self.clone();
        // Never in place: the form parse below blocks on its own future.
        let (plan, charge) = blocking(false, move || {
            let cfg = this.settings();
            let project = this.project(&cfg, Some(path_project), auth.as_ref())?;
            let (data, mut charge) = decode(body)?;
            // The form is whole in memory, so parsing it never waits: it only needs an executor.
            let (event, files) = tokio::runtime::Handle::current().block_on(parse_form(
                data,
                &content_type,
                cfg.ingest.max_attachment_bytes,
                cfg.ingest.max_event_bytes,
            ))?;
            charge.add(files.iter().map(|f| f.2.len()).sum())?;
            let plan = this.plan_minidump(&project, event, files)?;
            Ok((plan, charge))
        })
        .await?;
        self.commit(plan, charge).await
    }

    fn plan_minidump(
        &self,
        project: &ProjectConfig,
        mut event: Value,
        files: Vec<FormFile>,
    ) -> Result<Plan, IngestError> {
        let cfg = self.settings();
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
        let mut plan = Plan::new(self, project.id);
        // The dump follows its event: kept only when the event is stored in full (not when the
        // quota refused it, nor for a flood copy).
        let taken = self.plan_made_event(&mut plan, project, &event, now)? == Some(true);
        let Some(id) = plan.id.clone().filter(|_| taken) else {
            return Ok(plan);
        };
        for (name, content_type, data, attachment_type) in files {
            self.count_item(project.id, "attachment");
            let header = AttachmentHeader {
                filename: name,
                content_type,
                attachment_type: Some(attachment_type),
                size: data.len() as u64,
            };
            plan.attachments
                .push((id.clone(), with_header(&header, &data)));
        }
        Ok(plan)
    }
}

/// Most form fields read from a minidump upload.
const MAX_FORM_FIELDS: usize = 100;

/// A file of the form: (file name, content type, bytes, attachment type).
pub type FormFile = (String, Option<String>, Bytes, String);

/// Reads a Crashpad/Breakpad upload form: the `sentry` JSON field or `sentry[...]` fields make
/// the event; `upload_file_minidump` is the dump; other files are attachments. Each file is
/// bounded by `max_file` (a 20 MiB dump is ordinary; axum's extractor would stop at 2 MiB); the
/// fields that are not files, which make the event, by `max_fields` together.
pub async fn parse_form(
    body: Bytes,
    content_type: &str,
    max_file: u64,
    max_fields: u64,
) -> Result<(Value, Vec<FormFile>), IngestError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| IngestError::InvalidEvent(format!("not a multipart form: {e}")))?;
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(body.len() as u64)
            .per_field(max_file),
    );
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::with_constraints(stream, boundary, limits);
    let mut event = Value::Object(Default::default());
    let mut files = Vec::new();
    let mut fields = 0;
    let mut field_bytes: u64 = 0;
    let field_error = |name: &str, e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } => IngestError::TooLarge(format!(
            "form field `{}` is larger than {max_file} bytes",
            super::auth::truncate(name, 100)
        )),
        e => IngestError::InvalidEvent(format!(
            "bad form field `{}`: {e}",
            super::auth::truncate(name, 100)
        )),
    };
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| IngestError::InvalidEvent(format!("bad form: {e}")))?
    {
        fields += 1;
        if fields > MAX_FORM_FIELDS {
            return Err(IngestError::InvalidEvent(format!(
                "more than {MAX_FORM_FIELDS} form fields"
            )));
        }
        let name = field.name().unwrap_or("").to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let is_file = filename.is_some() || name == "upload_file_minidump";
        let data = if is_file {
            field.bytes().await.map_err(|e| field_error(&name, e))?
        } else {
            // The event is made of these: bounded like an event, all of them together.
            let mut buf = BytesMut::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| field_error(&name, e))? {
                field_bytes += chunk.len() as u64;
                if field_bytes > max_fields {
                    return Err(IngestError::TooLarge(format!(
                        "the form's fields other than files are larger than {max_fields} bytes together (ingest.max_event_bytes)"
                    )));
                }
                buf.extend_from_slice(&chunk);
            }
            buf.freeze()
        };
        if name == "upload_file_minidump" {
            files.push((
                filename.unwrap_or_else(|| "minidump.dmp".into()),
                content_type,
                data,
                "event.minidump".to_string(),
            ));
        } else if name == "sentry" && !is_file {
            event = serde_json::from_slice(&data).map_err(|e| {
                IngestError::InvalidEvent(format!("form field `sentry` is not JSON: {e}"))
            })?;
        } else if let Some(path) = bracket_path(&name).filter(|_| !is_file) {
            set_path(
                &mut event,
                &path,
                String::from_utf8_lossy(&data).into_owned(),
            );
        } else if let Some(f) = filename {
            files.push((f, content_type, data, "event.attachment".to_string()));
        }
    }
    Ok((event, files))
}

/// `sentry[tags][region]` -> ["tags", "region"].
fn bracket_path(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix("sentry[")?;
    let parts: Vec<String> = rest
        .trim_end_matches(']')
        .split("][")
        .map(str::to_string)
        .collect();
    (parts.len() <= 4 && parts.iter().all(|p| !p.is_empty())).then_some(parts)
}

fn set_path(root: &mut Value, path: &[String], value: String) {
    let mut cur = root;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let Value::Object(map) = cur else { return };
        if i + 1 == path.len() {
            map.insert(key.clone(), Value::String(value));
            return;
        }
        cur = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_field_paths() {
        let mut v = Value::Object(Default::default());
        set_path(
            &mut v,
            &bracket_path("sentry[release]").expect("p"),
            "r1".into(),
        );
        set_path(
            &mut v,
            &bracket_path("sentry[tags][region]").expect("p"),
            "eu".into(),
        );
        assert_eq!(v, json!({"release": "r1", "tags": {"region": "eu"}}));
        assert!(bracket_path("other").is_none());
    }

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (Bytes, String) {
        let boundary = "XyZ123";
        let mut body = Vec::new();
        for (name, file, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (
            Bytes::from(body),
            format!("multipart/form-data; boundary={boundary}"),
        )
    }

    /// A 3 MiB dump is read whole: the limit is the configured one, not axum's 2 MiB.
    #[tokio::test]
    async fn dumps_over_two_mebibytes_are_read_and_the_limit_is_ours() {
        let dump = vec![7u8; 3 * 1024 * 1024];
        let (body, ct) = form(&[
            ("sentry[release]", None, b"r1"),
            ("upload_file_minidump", Some("crash.dmp"), &dump),
        ]);
        let (event, files) = parse_form(body.clone(), &ct, 20 * 1024 * 1024, 1024 * 1024)
            .await
            .expect("read");
        assert_eq!(event, json!({"release": "r1"}));
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].2.len(), dump.len());
        assert_eq!(files[0].3, "event.minidump");
        let refused = parse_form(body, &ct, 1024 * 1024, 1024 * 1024).await;
        assert!(
            matches!(refused, Err(IngestError::TooLarge(_))),
            "{refused:?}"
        );
    }

    /// The fields that make the event are bounded like an event: one `sentry` field, or many
    /// `sentry[...]` fields, each under the file limit but together over the event limit.
    #[tokio::test]
    async fn the_fields_that_make_the_event_are_bounded_together() {
        let dump: &[u8] = b"MDMP";
        let big = vec![b'x'; 600 * 1024];
        let json = format!("{{\"message\":\"{}\"}}", "y".repeat(1100 * 1024));
        let (body, ct) = form(&[
            ("sentry", None, json.as_bytes()),
            ("upload_file_minidump", Some("crash.dmp"), dump),
        ]);
        let r = parse_form(body, &ct, 20 << 20, 1 << 20).await;
        assert!(matches!(r, Err(IngestError::TooLarge(_))), "{r:?}");
        let (body, ct) = form(&[
            ("sentry[extra][a]", None, &big),
            ("sentry[extra][b]", None, &big),
            ("upload_file_minidump", Some("crash.dmp"), dump),
        ]);
        let r = parse_form(body, &ct, 20 << 20, 1 << 20).await;
        assert!(matches!(r, Err(IngestError::TooLarge(_))), "{r:?}");
        let (body, ct) = form(&[
            ("sentry[extra][a]", None, &big),
            ("upload_file_minidump", Some("crash.dmp"), dump),
        ]);
        let (event, files) = parse_form(body, &ct, 20 << 20, 1 << 20)
            .await
            .expect("fits");
        assert_eq!(event["extra"]["a"].as_str().map(str::len), Some(big.len()));
        assert_eq!(files.len(), 1);
    }
}
