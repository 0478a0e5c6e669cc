//! The Chronos HTTP API's request bodies, sans-IO: parsing and checking
//! `POST /timers` and `PUT /timers/<id>` bodies, and writing them (for the
//! client).
//!
//! ```json
//! {
//!   "timing": { "interval": 30, "repeat-for": 90 },
//!   "callback": { "http": { "uri": "http://sprout:9888/timers", "opaque": "reg:alice" } },
//!   "reliability": { "replication-factor": 2 }
//! }
//! ```
//!
//! As Chronos: `interval` and `repeat-for` are seconds (`repeat-for`
//! defaults to `interval`: one pop); `reliability` is optional (default 2
//! replicas); the callback must be an `http://` URI; unknown fields are
//! ignored. Extensions: `interval-ms` and `repeat-for-ms` give milliseconds,
//! and seconds may be fractional; a repeating timer's interval is at least
//! [`MIN_REPEAT_INTERVAL`](crate::MIN_REPEAT_INTERVAL) (100 ms). Every rejection says why (the service
//! answers 400 with `{"error": "<reason>"}`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::{TimerError, TimerSpec};

/// Largest request body accepted (bytes).
pub const MAX_BODY: usize = 64 * 1024;

fn invalid<T>(reason: impl Into<String>) -> Result<T, TimerError> {
    Err(TimerError::Invalid(reason.into()))
}

/// A duration field given in seconds (`name`) or milliseconds (`name-ms`).
fn duration(obj: &Map<String, Value>, name: &str) -> Result<Option<Duration>, TimerError> {
    let ms_name = format!("{name}-ms");
    match (obj.get(name), obj.get(&ms_name)) {
        (Some(_), Some(_)) => invalid(format!("give {name} or {ms_name}, not both")),
        (Some(v), None) => match v.as_f64() {
            Some(s) if s.is_finite() && s >= 0.0 && s <= crate::MAX_PERIOD.as_secs_f64() => {
                Ok(Some(Duration::from_secs_f64(s)))
            }
            Some(_) => invalid(format!("timing.{name} must be 0 to one year, in seconds")),
            None => invalid(format!("timing.{name} must be a number of seconds")),
        },
        (None, Some(v)) => match v.as_u64() {
            Some(ms) if Duration::from_millis(ms) <= crate::MAX_PERIOD => {
                Ok(Some(Duration::from_millis(ms)))
            }
            Some(_) => invalid(format!("timing.{ms_name} must be at most one year")),
            None => invalid(format!(
                "timing.{ms_name} must be a whole number of milliseconds"
            )),
        },
        (None, None) => Ok(None),
    }
}

/// Parses and checks a `POST /timers` (or `PUT`) body.
pub fn parse_timer(body: &[u8]) -> Result<TimerSpec, TimerError> {
    if body.len() > MAX_BODY {
        return invalid(format!("body over {MAX_BODY} bytes"));
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return invalid(format!("body is not JSON: {e}")),
    };
    let Some(top) = v.as_object() else {
        return invalid("body must be a JSON object");
    };
    let Some(timing) = top.get("timing").and_then(Value::as_object) else {
        return invalid("timing object is required");
    };
    let Some(interval) = duration(timing, "interval")? else {
        return invalid("timing.interval is required");
    };
    let repeat_for = duration(timing, "repeat-for")?.unwrap_or(interval);
    // In whole milliseconds, as the timer is kept: an interval that rounds
    // down to 0 ms with a longer repeat-for asks for repeats too (it would
    // otherwise pop once, at once).
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let (interval_ms, repeat_ms) = (ms(interval), ms(repeat_for));
    let repeating = if interval_ms == 0 {
        repeat_ms > 0
    } else {
        crate::pops(interval_ms, repeat_ms) > 1
    };
    if repeating && interval_ms < ms(crate::MIN_REPEAT_INTERVAL) {
        return invalid(format!(
            "a repeating timer's interval must be at least {} ms",
            crate::MIN_REPEAT_INTERVAL.as_millis()
        ));
    }
    let Some(http) = top
        .get("callback")
        .and_then(Value::as_object)
        .and_then(|c| c.get("http"))
        .and_then(Value::as_object)
    else {
        return invalid("callback.http object is required");
    };
    let Some(uri) = http.get("uri").and_then(Value::as_str) else {
        return invalid("callback.http.uri is required (a string)");
    };
    check_callback_uri(uri)?;
    let opaque = match http.get("opaque") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return invalid("callback.http.opaque must be a string"),
    };
    let replication = match top.get("reliability") {
        None | Some(Value::Null) => 2,
        Some(Value::Object(r)) => match r.get("replication-factor") {
            None => 2,
            Some(n) => match n.as_u64() {
                Some(n @ 1..=3) => n as u8,
                _ => return invalid("reliability.replication-factor must be 1, 2 or 3"),
            },
        },
        Some(_) => return invalid("reliability must be an object"),
    };
    let spec = TimerSpec {
        interval,
        repeat_for,
        callback: uri.to_owned(),
        opaque,
        replication,
    };
    spec.validate()?;
    Ok(spec)
}

/// Checks a pop callback: an absolute `http://` URI with a host.
pub fn check_callback_uri(uri: &str) -> Result<(), TimerError> {
    let Some(rest) = uri.strip_prefix("http://") else {
        return invalid("callback.http.uri must be an http:// URI");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains(['@', ' ']) {
        return invalid("callback.http.uri needs a host");
    }
    if uri.parse::<http::Uri>().is_err() {
        return invalid("callback.http.uri is not a valid URI");
    }
    Ok(())
}

/// The JSON body for `spec` (what the client sends).
pub fn timer_body(spec: &TimerSpec) -> Value {
    json!({
        "timing": {
            "interval-ms": u64::try_from(spec.interval.as_millis()).unwrap_or(u64::MAX),
            "repeat-for-ms": u64::try_from(spec.repeat_for.as_millis()).unwrap_or(u64::MAX),
        },
        "callback": { "http": { "uri": spec.callback, "opaque": spec.opaque } },
        "reliability": { "replication-factor": spec.replication },
    })
}

/// The body of a 400 answer.
pub fn error_body(reason: &str) -> Value {
    json!({ "error": reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(body: &str) -> String {
        match parse_timer(body.as_bytes()) {
            Err(TimerError::Invalid(r)) => r,
            other => panic!("{body}: expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn chronos_bodies() {
        let s = parse_timer(
            br#"{"timing":{"interval":30,"repeat-for":90},
                 "callback":{"http":{"uri":"http://sprout:9888/timers","opaque":"reg:alice"}},
                 "reliability":{"replication-factor":3},"statistics":{"tags":[]}}"#,
        )
        .unwrap();
        assert_eq!(s.interval, Duration::from_secs(30));
        assert_eq!(s.pops(), 3);
        assert_eq!(
            (s.callback.as_str(), s.opaque.as_str(), s.replication),
            ("http://sprout:9888/timers", "reg:alice", 3)
        );
        let s =
            parse_timer(br#"{"timing":{"interval":0.25},"callback":{"http":{"uri":"http://h/"}}}"#)
                .unwrap();
        assert_eq!(
            (s.interval, s.repeat_for, s.replication, s.pops()),
            (Duration::from_millis(250), Duration::from_millis(250), 2, 1)
        );
        let s = parse_timer(br#"{"timing":{"interval-ms":1500,"repeat-for-ms":6000},"callback":{"http":{"uri":"http://h:1/x"}}}"#).unwrap();
        assert_eq!(s.pops(), 4);
        // The client's own bodies parse back to the same spec.
        assert_eq!(
            parse_timer(timer_body(&s).to_string().as_bytes()).unwrap(),
            s
        );
    }

    #[test]
    fn rejections_say_why() {
        assert!(reason("nope").starts_with("body is not JSON"));
        assert_eq!(reason("[]"), "body must be a JSON object");
        assert_eq!(reason("{}"), "timing object is required");
        assert_eq!(reason(r#"{"timing":{}}"#), "timing.interval is required");
        assert_eq!(
            reason(r#"{"timing":{"interval":-1}}"#),
            "timing.interval must be 0 to one year, in seconds"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":"5"}}"#),
            "timing.interval must be a number of seconds"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":1e12}}"#),
            "timing.interval must be 0 to one year, in seconds"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval-ms":1.5}}"#),
            "timing.interval-ms must be a whole number of milliseconds"
        );
        // Each pop is a request: a fast repeating timer would be a flood.
        let cb = r#""callback":{"http":{"uri":"http://h:1/x"}}"#;
        assert_eq!(
            reason(&format!(
                r#"{{"timing":{{"interval-ms":99,"repeat-for-ms":990}},{cb}}}"#
            )),
            "a repeating timer's interval must be at least 100 ms"
        );
        assert!(
            parse_timer(format!(r#"{{"timing":{{"interval-ms":99}},{cb}}}"#).as_bytes()).is_ok()
        );
        // An interval that rounds down to 0 ms still asks for repeats.
        for timing in [
            r#"{"interval":0.0005,"repeat-for":60}"#,
            r#"{"interval-ms":0,"repeat-for-ms":60000}"#,
        ] {
            assert_eq!(
                reason(&format!(r#"{{"timing":{timing},{cb}}}"#)),
                "a repeating timer's interval must be at least 100 ms",
                "{timing}"
            );
        }
        assert!(
            parse_timer(format!(r#"{{"timing":{{"interval-ms":0}},{cb}}}"#).as_bytes()).is_ok()
        );
        assert!(
            parse_timer(
                format!(r#"{{"timing":{{"interval-ms":100,"repeat-for-ms":1000}},{cb}}}"#)
                    .as_bytes()
            )
            .is_ok()
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":1,"interval-ms":1}}"#),
            "give interval or interval-ms, not both"
        );
        assert_eq!(
            reason(
                r#"{"timing":{"interval":10,"repeat-for":5},"callback":{"http":{"uri":"http://h/"}}}"#
            ),
            "repeat-for must be at least the interval"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":1}}"#),
            "callback.http object is required"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":1},"callback":{"http":{}}}"#),
            "callback.http.uri is required (a string)"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":1},"callback":{"http":{"uri":"https://h/"}}}"#),
            "callback.http.uri must be an http:// URI"
        );
        assert_eq!(
            reason(r#"{"timing":{"interval":1},"callback":{"http":{"uri":"http:///x"}}}"#),
            "callback.http.uri needs a host"
        );
        assert_eq!(
            reason(
                r#"{"timing":{"interval":1},"callback":{"http":{"uri":"http://h/","opaque":5}}}"#
            ),
            "callback.http.opaque must be a string"
        );
        assert_eq!(
            reason(
                r#"{"timing":{"interval":1},"callback":{"http":{"uri":"http://h/"}},"reliability":{"replication-factor":4}}"#
            ),
            "reliability.replication-factor must be 1, 2 or 3"
        );
        let big = format!(
            r#"{{"timing":{{"interval":1}},"pad":"{}"}}"#,
            "x".repeat(MAX_BODY)
        );
        assert!(reason(&big).starts_with("body over"));
    }
}
