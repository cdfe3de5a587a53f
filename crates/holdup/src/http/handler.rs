//! What each `/debug/pprof/` request gets, independent of the server running it: Go's
//! `net/http/pprof` paths, parameters, headers, status codes and error texts (as Go's `net/http/pprof` has them),
//! plus holdup's token check.
//!
//! [`route`] answers a request at once, or asks the caller to wait (`?seconds=N` deltas) and then
//! call [`finish_delta`]. Both do CPU work (snapshots, symbolization, encoding) and should run
//! off the server's event loop.

use std::io::Write as _;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};

use super::Config;
use crate::profile::{self, CountProfile, Profile};

/// The profiles served, with Go's descriptions (plus the pseudo-profiles in [`INDEX`]).
const PROFILES: [(&str, &str); 4] = [
    (
        "block",
        "Stack traces that led to blocking on synchronization primitives",
    ),
    (
        "goroutine",
        "Stack traces of all current threads, with what each waits for and who holds the lock (holdup's goroutines are threads). Use debug=2 as a query parameter for one entry per thread. Also served as /debug/pprof/threads",
    ),
    ("mutex", "Stack traces of holders of contended mutexes"),
    (
        "threadcreate",
        "Stack traces that led to the creation of new OS threads (here: spawn sites of holdup::thread)",
    ),
];

/// Every entry of the index page, sorted by name as Go sorts them.
const INDEX: [(&str, &str); 8] = [
    PROFILES[0],
    (
        "cmdline",
        "The command line invocation of the current program",
    ),
    PROFILES[1],
    PROFILES[2],
    (
        "profile",
        "CPU profile. You can specify the duration in the seconds GET parameter. After you get the profile file, use the go tool pprof command to investigate the profile.",
    ),
    (
        "symbol",
        "Maps given program counters to function names. Counters can be specified in a GET raw query or POST body, multiple counters are separated by '+'.",
    ),
    PROFILES[3],
    (
        "trace",
        "A trace of execution of the current program's threads, tasks and holdup primitives, in Perfetto's format (open it at ui.perfetto.dev). You can specify the duration in the seconds GET parameter (1 by default).",
    ),
];

/// A response body.
pub(crate) type Body = Vec<u8>;

/// A snapshot of a profile that supports deltas, or the execution trace being recorded.
#[derive(Debug)]
pub(crate) enum Snapshot {
    Contention(Profile),
    Count(CountProfile),
    Trace(Tracing),
    /// A CPU profile being taken (stopped when dropped, so an abandoned request stops it).
    Cpu(profile::CpuProfiler),
    /// A wall-clock profile being taken (likewise).
    Wall(profile::WallProfiler),
}

/// A trace window recorded for a request: stopped when the request finishes or is abandoned
/// (a client gone, a server shutting down), so that it never keeps recording.
#[derive(Debug)]
pub(crate) struct Tracing {
    stopped: bool,
}

impl Tracing {
    fn finish(mut self) -> Result<crate::trace::Trace, crate::trace::Error> {
        self.stopped = true;
        crate::trace::stop()
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = crate::trace::stop();
        }
    }
}

/// The outcome of [`route`].
#[derive(Debug)]
pub(crate) enum Action {
    /// Send this response.
    Respond(Response<Body>),
    /// Wait `wait`, then call [`finish_delta`] with `name` and `before`.
    Delta {
        name: &'static str,
        wait: std::time::Duration,
        before: Snapshot,
    },
}

/// The 401 for a request without the server's bearer token, if it has one.
pub(crate) fn check_token(headers: &HeaderMap, cfg: &Config) -> Option<Response<Body>> {
    let token = cfg.token.as_ref()?;
    if authorized(headers, token) {
        return None;
    }
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "holdup: missing or wrong bearer token (send Authorization: Bearer <token>)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"holdup\""),
    );
    Some(r)
}

/// Decides what an (authorized) request gets. `body` is the request body, read only for POSTs.
pub(crate) fn route(
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    cfg: &Config,
) -> Action {
    if path == "/debug/pprof" {
        let mut r = plain(
            StatusCode::MOVED_PERMANENTLY,
            "text/html; charset=utf-8",
            b"<a href=\"/debug/pprof/\">Moved Permanently</a>.\n\n".to_vec(),
        );
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/debug/pprof/"));
        return Action::Respond(r);
    }
    // holdup's own endpoints live beside Go's, so that Go's paths keep Go's meaning.
    let (holdup, name) = match (
        path.strip_prefix("/debug/holdup/"),
        path.strip_prefix("/debug/pprof/"),
    ) {
        (Some(name), _) => (true, name),
        (None, Some(name)) => (false, name),
        (None, None) => {
            return Action::Respond(plain(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                b"404 page not found\n".to_vec(),
            ));
        }
    };
    let posts = !holdup && name == "symbol";
    let allowed: &[Method] = if posts {
        &[Method::GET, Method::HEAD, Method::POST]
    } else {
        &[Method::GET, Method::HEAD]
    };
    if !allowed.contains(method) {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            b"Method Not Allowed\n".to_vec(),
        );
        let allow = if posts {
            "GET, HEAD, POST"
        } else {
            "GET, HEAD"
        };
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return Action::Respond(r);
    }
    let params = Params::parse(query);
    if holdup {
        return match name {
            "wall" => sampling_request(&params, cfg, true),
            _ => Action::Respond(error(StatusCode::NOT_FOUND, "Unknown profile")),
        };
    }
    match name {
        "" => Action::Respond(index()),
        "cmdline" => Action::Respond(cmdline()),
        "symbol" => Action::Respond(symbol(if *method == Method::POST {
            body
        } else {
            query.unwrap_or("").as_bytes()
        })),
        "profile" => sampling_request(&params, cfg, false),
        "trace" => trace_request(&params, cfg),
        "threads" => profile_request("goroutine", &params, cfg),
        _ => match PROFILES.iter().find(|(n, _)| *n == name) {
            Some(&(name, _)) => profile_request(name, &params, cfg),
            None => Action::Respond(error(StatusCode::NOT_FOUND, "Unknown profile")),
        },
    }
}

/// Finishes a `?seconds=N` request: the difference between `before` and now.
pub(crate) fn finish_delta(name: &'static str, before: Snapshot) -> Response<Body> {
    let mut body = Vec::new();
    let sampled = |written: std::io::Result<()>, body| match written {
        Ok(()) => attachment(name, body),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "failed to write profile"),
    };
    let before = match before {
        Snapshot::Cpu(p) => return sampled(p.stop().write_pprof(&mut body), body),
        Snapshot::Wall(p) => return sampled(p.stop().write_pprof(&mut body), body),
        before => before,
    };
    if let Snapshot::Trace(tracing) = before {
        return match tracing.finish().map(|t| t.write_perfetto(&mut body)) {
            Ok(Ok(())) => attachment("trace", body),
            _ => error(StatusCode::INTERNAL_SERVER_ERROR, "failed to collect trace"),
        };
    }
    let written = match (before, snapshot(name)) {
        (Snapshot::Contention(b), Snapshot::Contention(a)) => a.delta(&b).write_pprof(&mut body),
        (Snapshot::Count(b), Snapshot::Count(a)) => a.delta(&b).write_pprof(&mut body),
        _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "failed to compute delta"),
    };
    match written {
        Ok(()) => attachment(&format!("{name}-delta"), body),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to collect profile",
        ),
    }
}

/// The answer to a request that cannot be served now (overload, shutdown).
pub(crate) fn unavailable(text: &str) -> Response<Body> {
    error(StatusCode::SERVICE_UNAVAILABLE, text)
}

/// An error response as Go's `serveError` writes it: plain text, `X-Go-Pprof: 1` (which makes
/// `go tool pprof` show the text), no attachment.
pub(crate) fn error(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = plain(
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n").into_bytes(),
    );
    r.headers_mut()
        .insert("x-go-pprof", HeaderValue::from_static("1"));
    r
}

fn plain(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn attachment(filename: &str, body: Body) -> Response<Body> {
    let mut r = plain(StatusCode::OK, "application/octet-stream", body);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Go's `FormValue` for the two parameters the profiles read: first value wins; an unparsable
/// `debug` counts as 0 (Go ignores the error), `seconds` is validated where it is used.
#[derive(Debug, Default)]
struct Params {
    debug: i64,
    seconds: Option<String>,
}

impl Params {
    fn parse(query: Option<&str>) -> Self {
        let mut p = Params::default();
        let mut debug = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "debug" if debug.is_none() => debug = Some(v.trim().parse::<i64>().unwrap_or(0)),
                "seconds" if p.seconds.is_none() => p.seconds = Some(v.into_owned()),
                _ => {}
            }
        }
        p.debug = debug.unwrap_or(0);
        p
    }
}

fn profile_request(name: &'static str, params: &Params, cfg: &Config) -> Action {
    // An empty `seconds=` is no parameter, as with Go's FormValue.
    if let Some(sec) = params.seconds.as_deref().filter(|s| !s.is_empty()) {
        let seconds = match sec.parse::<i64>() {
            Ok(s) if s > 0 => s as u64,
            _ => {
                return Action::Respond(error(
                    StatusCode::BAD_REQUEST,
                    r#"invalid value for "seconds" - must be a positive integer"#,
                ));
            }
        };
        if params.debug != 0 {
            return Action::Respond(error(
                StatusCode::BAD_REQUEST,
                "seconds and debug params are incompatible",
            ));
        }
        if seconds > cfg.max_seconds {
            return too_long(cfg);
        }
        return Action::Delta {
            name,
            wait: std::time::Duration::from_secs(seconds),
            before: snapshot(name),
        };
    }
    let mut body = Vec::new();
    let written = if name == "goroutine" {
        // A thread dump: debug=2 is one entry per thread (Go's panic-style dump).
        let dump = crate::dump::threads();
        match params.debug {
            0 => dump.write_pprof(&mut body),
            1 => dump.write_text(&mut body, crate::dump::Detail::Grouped),
            _ => dump.write_text(&mut body, crate::dump::Detail::Full),
        }
    } else {
        match (&snapshot(name), params.debug != 0) {
            (Snapshot::Contention(p), false) => p.write_pprof(&mut body),
            (Snapshot::Contention(p), true) => p.write_text(&mut body),
            (Snapshot::Count(p), false) => p.write_pprof(&mut body),
            (Snapshot::Count(p), true) => p.write_text(&mut body),
            (Snapshot::Trace(_) | Snapshot::Cpu(_) | Snapshot::Wall(_), _) => {
                unreachable!("`snapshot` makes no trace, CPU or wall-clock profile")
            }
        }
    };
    Action::Respond(match written {
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "failed to write profile"),
        Ok(()) if params.debug != 0 => plain(StatusCode::OK, "text/plain; charset=utf-8", body),
        Ok(()) => attachment(name, body),
    })
}

/// The 400 for a `seconds` over the server's cap.
fn too_long(cfg: &Config) -> Action {
    Action::Respond(error(
        StatusCode::BAD_REQUEST,
        &format!(
            r#"invalid value for "seconds" - this server allows at most {}"#,
            cfg.max_seconds
        ),
    ))
}

/// `/debug/pprof/trace?seconds=N`: Go's rules (a float; invalid or not positive means 1 s),
/// capped like the deltas; one trace at a time.
fn trace_request(params: &Params, cfg: &Config) -> Action {
    let seconds = params
        .seconds
        .as_deref()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    if seconds > cfg.max_seconds as f64 {
        return too_long(cfg);
    }
    if let Err(e) = crate::trace::start() {
        return Action::Respond(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Could not enable tracing: {e}"),
        ));
    }
    Action::Delta {
        name: "trace",
        wait: std::time::Duration::from_secs_f64(seconds),
        before: Snapshot::Trace(Tracing { stopped: false }),
    }
}

/// `/debug/pprof/profile?seconds=N` (the CPU profile) and `/debug/holdup/wall?seconds=N`
/// (the wall-clock view, with `wall`): Go's CPU profile rules (an integer; invalid or not
/// positive means 30 s), capped like the deltas; one at a time (they share the sampler), with
/// Go's error for a second.
fn sampling_request(params: &Params, cfg: &Config, wall: bool) -> Action {
    let Some(seconds) = sampling_seconds(params, cfg) else {
        return too_long(cfg);
    };
    let started = if wall {
        profile::start_wall(profile::DEFAULT_HZ).map(Snapshot::Wall)
    } else {
        profile::start_cpu(profile::DEFAULT_HZ).map(Snapshot::Cpu)
    };
    match started {
        Ok(before) => Action::Delta {
            name: if wall { "wall" } else { "profile" },
            wait: std::time::Duration::from_secs(seconds),
            before,
        },
        Err(e) => Action::Respond(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "Could not enable {}: {e}",
                if wall {
                    "wall-clock profiling"
                } else {
                    "CPU profiling"
                }
            ),
        )),
    }
}

/// The `seconds` of a sampled profile: Go's CPU profile rules (an integer; invalid or not
/// positive means 30 s); `None` over the deltas' cap.
fn sampling_seconds(params: &Params, cfg: &Config) -> Option<u64> {
    let seconds = params
        .seconds
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(30);
    (seconds <= cfg.max_seconds as i64).then_some(seconds as u64)
}

fn snapshot(name: &str) -> Snapshot {
    match name {
        "mutex" => Snapshot::Contention(profile::mutex()),
        "block" => Snapshot::Contention(profile::block()),
        "goroutine" => Snapshot::Count(profile::goroutine()),
        _ => Snapshot::Count(profile::threadcreate()),
    }
}

/// Go's index page, with holdup's profiles and their counts.
fn index() -> Response<Body> {
    let mut b = String::from(
        "<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n.profile-name{\n\tdisplay:inline-block;\n\twidth:6rem;\n}\n</style>\n</head>\n<body>\n/debug/pprof/\n<br>\n<p>Set debug=1 as a query parameter to export in legacy text format</p>\n<br>\nTypes of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n",
    );
    for (name, _) in INDEX {
        let count = match name {
            "mutex" => profile::mutex().len() as i64,
            "block" => profile::block().len() as i64,
            "goroutine" => crate::dump::count() as i64,
            "threadcreate" => profile::threadcreate().total(),
            _ => 0,
        };
        b.push_str(&format!(
            "<tr><td>{count}</td><td><a href='{name}?debug=1'>{}</a></td></tr>\n",
            escape(name)
        ));
    }
    b.push_str("</table>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n");
    for (name, desc) in INDEX {
        b.push_str(&format!(
            "<li><div class=profile-name>{}: </div> {}</li>\n",
            escape(name),
            escape(desc)
        ));
    }
    b.push_str("</ul>\n</p>\n</body>\n</html>");
    plain(StatusCode::OK, "text/html; charset=utf-8", b.into_bytes())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
        .replace('"', "&#34;")
}

/// The program's arguments separated by NUL bytes.
fn cmdline() -> Response<Body> {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    plain(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        args.join("\0").into_bytes(),
    )
}

/// Go's `/debug/pprof/symbol`: `num_symbols: 1`, then `0x<pc> <function>` for each address of
/// `words` (separated by `+`) that resolves.
fn symbol(words: &[u8]) -> Response<Body> {
    let mut out = b"num_symbols: 1\n".to_vec();
    let pcs: Vec<u64> = words
        .split(|&b| b == b'+')
        .filter_map(|w| std::str::from_utf8(w).ok())
        .filter_map(parse_uint)
        .filter(|&pc| pc != 0)
        .take(10_000)
        .collect();
    for (pc, name) in profile::function_names(&pcs) {
        let _ = writeln!(out, "{pc:#x} {name}");
    }
    plain(StatusCode::OK, "text/plain; charset=utf-8", out)
}

/// Go's `strconv.ParseUint(s, 0, 64)`: decimal, `0x` hex, `0o`/`0` octal, `0b` binary.
fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (o, 8)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    u64::from_str_radix(&digits.replace('_', ""), radix).ok()
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Some(given) = value.as_bytes().strip_prefix(b"Bearer ") else {
        return false;
    };
    constant_time_eq(given.trim_ascii(), token.as_bytes())
}

/// Compares without an early exit, so the time taken does not reveal how much matched (the
/// length still does; tokens should be long and random).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_unsigned_numbers() {
        assert_eq!(parse_uint("0x4df1c0"), Some(0x4df1c0));
        assert_eq!(parse_uint("1234"), Some(1234));
        assert_eq!(parse_uint("017"), Some(15));
        assert_eq!(parse_uint("0b101"), Some(5));
        assert_eq!(parse_uint("zz"), None);
        assert_eq!(parse_uint(""), None);
    }

    #[test]
    fn compares_tokens_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    #[test]
    fn query_parameters_follow_form_value() {
        let p = Params::parse(Some("debug=1&debug=2&seconds=5"));
        assert_eq!((p.debug, p.seconds.as_deref()), (1, Some("5")));
        let p = Params::parse(Some("debug=x"));
        assert_eq!(p.debug, 0);
        let p = Params::parse(Some("seconds=%31%30"));
        assert_eq!(p.seconds.as_deref(), Some("10"));
    }
}
