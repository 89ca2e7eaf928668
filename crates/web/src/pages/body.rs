//! The fields of a public POST, whichever way a browser or script sends
//! them: `application/x-www-form-urlencoded`, `multipart/form-data` (both
//! RFC 8058 allows for one-click unsubscribe) or JSON. Bounded in size and
//! number of fields.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

/// At most this many fields; a form has a handful.
const MAX_FIELDS: usize = 64;
/// At most this long per field value.
const MAX_VALUE: usize = 8 * 1024;

#[derive(Debug, Default)]
pub struct Fields {
    pairs: Vec<(String, String)>,
    pub json: bool,
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Malformed,
}

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn push(&mut self, k: String, v: String) -> Result<(), BodyError> {
        if self.pairs.len() >= MAX_FIELDS || v.len() > MAX_VALUE || k.len() > 200 {
            return Err(BodyError::TooLarge);
        }
        self.pairs.push((k, v));
        Ok(())
    }

    pub async fn read(req: Request, limit: usize) -> Result<Fields, BodyError> {
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let mut fields = Fields::default();
        if content_type.starts_with("multipart/form-data") {
            // The public routes carry a DefaultBodyLimit layer that the
            // multipart reader honours.
            let mut multipart = Multipart::from_request(req, &()).await.map_err(|_| BodyError::Malformed)?;
            loop {
                match multipart.next_field().await {
                    Ok(Some(field)) => {
                        let name = field.name().unwrap_or_default().to_string();
                        let value = field.text().await.map_err(|e| {
                            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                                BodyError::TooLarge
                            } else {
                                BodyError::Malformed
                            }
                        })?;
                        fields.push(name, value)?;
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(BodyError::TooLarge);
                    }
                    Err(_) => return Err(BodyError::Malformed),
                }
            }
            return Ok(fields);
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| BodyError::TooLarge)?;
        if content_type.starts_with("application/json") {
            fields.json = true;
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| BodyError::Malformed)?;
            let object = value.as_object().ok_or(BodyError::Malformed)?;
            for (k, v) in object {
                match v {
                    serde_json::Value::String(s) => fields.push(k.clone(), s.clone())?,
                    serde_json::Value::Bool(b) => fields.push(k.clone(), b.to_string())?,
                    serde_json::Value::Number(n) => fields.push(k.clone(), n.to_string())?,
                    serde_json::Value::Array(items) => {
                        for item in items {
                            let s = match item {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            fields.push(k.clone(), s)?;
                        }
                    }
                    serde_json::Value::Null => {}
                    serde_json::Value::Object(_) => return Err(BodyError::Malformed),
                }
            }
            return Ok(fields);
        }
        // Urlencoded, or no content type at all (an empty POST).
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| BodyError::Malformed)?;
        for (k, v) in pairs {
            fields.push(k, v)?;
        }
        Ok(fields)
    }
}

/// True when the client would rather have JSON than a page.
pub fn wants_json(headers: &axum::http::HeaderMap, fields: &Fields) -> bool {
    fields.json
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}
