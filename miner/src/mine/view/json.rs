//! `--json`: one JSON object per event on stdout, stamped with the time.

use std::{
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::mine::events::Event;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Prints `event` as one JSON line on stdout, with its `ts_ms`.
pub(super) fn print_json(event: &Event) {
    let mut value = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("ts_ms".into(), serde_json::Value::from(now_ms() as u64));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}
