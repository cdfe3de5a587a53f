//! `/debug/pprof/` through a real HTTP client over loopback: every endpoint and parameter with
//! Go's status codes and headers, the security rules and limits, and `go tool pprof` reading
//! a live server.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use holdup::http::{Builder, ErrorKind, Server};
use holdup::sync::{Arc, Mutex};
use holdup_pprof::ProfileView;

/// What a request got back.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("request failed");
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body,
    }
}

fn get(server: &Server, path: &str) -> Reply {
    reply(agent().get(url(server, path)).call())
}

fn url(server: &Server, path: &str) -> String {
    format!("http://{}{path}", server.local_addr())
}

fn local() -> Server {
    holdup::http::serve("127.0.0.1:0").expect("serve on loopback")
}

/// Every response carries `X-Content-Type-Options: nosniff`, as Go's do.
fn assert_nosniff(r: &Reply) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{r:?}");
}

/// A Go-style error: the status, plain text with `X-Go-Pprof: 1`, no attachment.
fn assert_error(r: &Reply, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("x-go-pprof"), Some("1"));
    assert_eq!(r.header("content-disposition"), None);
    assert_nosniff(r);
    assert!(r.text().contains(text), "want {text:?} in {:?}", r.text());
}

/// A profile attachment named `filename`, gzip'd protobuf without `Content-Encoding` (as Go
/// sends it, and as Alloy and Parca expect it).
fn assert_attachment(r: &Reply, filename: &str) -> holdup_pprof::proto::Profile {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"{filename}\"").as_str())
    );
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("x-go-pprof"), None);
    assert_nosniff(r);
    assert_eq!(&r.body[..2], &[0x1f, 0x8b], "gzip magic");
    holdup_pprof::decode(&r.body).expect("a valid profile")
}

#[inline(never)]
fn http_holder(m: &Mutex<u64>, hold: Duration) {
    let mut g = m.lock().unwrap();
    std::thread::sleep(hold);
    *g += 1;
}

#[inline(never)]
fn http_waiter(m: &Mutex<u64>) {
    *m.lock().unwrap() += 1;
}

/// Makes `m` contended once: a holder keeps it for `hold` while two threads wait.
fn contend(m: &Arc<Mutex<u64>>, hold: Duration) {
    holdup::set_mutex_profile_fraction(1);
    holdup::set_block_profile_rate(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let holder = {
        let m = m.clone();
        holdup::thread::spawn(move || {
            let mut g = m.lock().unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(hold);
            *g += 1;
            drop(g);
            http_holder(&m, Duration::ZERO);
        })
    };
    rx.recv().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            holdup::thread::spawn(move || http_waiter(&m))
        })
        .collect();
    holder.join().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
}

/// The function names of a decoded profile's samples whose `lock` label is `site`.
fn functions_at(p: &holdup_pprof::proto::Profile, site: &str) -> Vec<String> {
    let view = ProfileView::new(p).unwrap();
    p.sample
        .iter()
        .filter(|s| view.label(s, "lock") == Some(site))
        .flat_map(|s| view.frames(s).into_iter().map(|f| f.function.to_owned()))
        .collect()
}

#[test]
fn index_lists_every_profile_with_counts_and_descriptions() {
    let server = local();
    let r = get(&server, "/debug/pprof/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_nosniff(&r);
    let page = r.text();
    assert!(
        page.starts_with("<html>\n<head>\n<title>/debug/pprof/</title>"),
        "{page}"
    );
    for name in [
        "block",
        "cmdline",
        "goroutine",
        "mutex",
        "profile",
        "symbol",
        "threadcreate",
        "trace",
    ] {
        assert!(
            page.contains(&format!("<a href='{name}?debug=1'>{name}</a>")),
            "no {name} in {page}"
        );
        assert!(
            page.contains(&format!("<div class=profile-name>{name}: </div>")),
            "{page}"
        );
    }
    assert!(
        page.contains("Stack traces of holders of contended mutexes"),
        "{page}"
    );
    // Sorted by name, as Go sorts them.
    let block = page.find("'block?debug=1'").unwrap();
    let threadcreate = page.find("'threadcreate?debug=1'").unwrap();
    assert!(block < threadcreate);

    // `/debug/pprof` redirects to the index.
    let no_follow = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let r = reply(no_follow.get(url(&server, "/debug/pprof")).call());
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/debug/pprof/"));
}

#[test]
fn the_index_counts_registered_threads() {
    let server = local();
    let release = Arc::new(AtomicBool::new(false));
    let parked: Vec<_> = (0..3)
        .map(|_| {
            let release = release.clone();
            holdup::thread::spawn(move || {
                while !release.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    let page = get(&server, "/debug/pprof/").text();
    release.store(true, Ordering::Relaxed);
    for t in parked {
        t.join().unwrap();
    }
    let count: i64 = page
        .lines()
        .find(|l| l.contains("'goroutine?debug=1'"))
        .and_then(|l| l.strip_prefix("<tr><td>"))
        .and_then(|l| l.split('<').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no goroutine count in {page}"));
    assert!(count >= 3, "{page}");
}

#[test]
fn mutex_and_block_serve_protobuf_and_legacy_text() {
    let server = local();
    let (m, site) = (Arc::new(Mutex::new(0)), here!());
    contend(&m, Duration::from_millis(50));

    let p = assert_attachment(&get(&server, "/debug/pprof/mutex"), "mutex");
    let view = ProfileView::new(&p).unwrap();
    assert_eq!(
        view.sample_types(),
        [("contentions", "count"), ("delay", "nanoseconds")]
    );
    let functions = functions_at(&p, &site);
    assert!(
        functions
            .iter()
            .any(|f| f.ends_with("http::contend::{{closure}}")),
        "{functions:?}"
    );
    assert!(p.time_nanos > 0);

    let p = assert_attachment(&get(&server, "/debug/pprof/block"), "block");
    let functions = functions_at(&p, &site);
    assert!(
        functions.iter().any(|f| f == "http::http_waiter"),
        "{functions:?}"
    );

    for (name, header) in [("mutex", "--- mutex:"), ("block", "--- contention:")] {
        let r = get(&server, &format!("/debug/pprof/{name}?debug=1"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("content-disposition"), None);
        assert_nosniff(&r);
        assert!(r.text().starts_with(header), "{}", r.text());
        assert!(
            r.text().contains("http_waiter") || name == "mutex",
            "{}",
            r.text()
        );
    }
    // Go's FormValue: the first value counts; a non-number is 0 (protobuf).
    assert!(
        get(&server, "/debug/pprof/mutex?debug=1&debug=0")
            .text()
            .starts_with("--- mutex:")
    );
    assert_attachment(&get(&server, "/debug/pprof/mutex?debug=x"), "mutex");

    // HEAD gets the headers without a body.
    let r = reply(agent().head(url(&server, "/debug/pprof/mutex")).call());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.body.is_empty());
}

#[test]
fn seconds_returns_only_what_happened_meanwhile() {
    let server = local();
    let (before, before_site) = (Arc::new(Mutex::new(0)), here!());
    contend(&before, Duration::from_millis(20));
    let (during, during_site) = (Arc::new(Mutex::new(0)), here!());
    let client = {
        let url = url(&server, "/debug/pprof/block?seconds=2");
        std::thread::spawn(move || reply(agent().get(url).call()))
    };
    // The snapshot is taken when the request arrives; contend well inside the window.
    std::thread::sleep(Duration::from_millis(700));
    contend(&during, Duration::from_millis(20));
    let r = client.join().unwrap();
    let p = assert_attachment(&r, "block-delta");
    assert!(
        !functions_at(&p, &during_site).is_empty(),
        "the window's contention is missing"
    );
    assert!(
        functions_at(&p, &before_site).is_empty(),
        "contention from before the window is in the delta"
    );
    let seconds = p.duration_nanos as f64 / 1e9;
    assert!((1.9..10.0).contains(&seconds), "duration {seconds}s");
}

#[test]
fn seconds_is_validated_like_go() {
    let server = Builder::new().max_seconds(30).serve("127.0.0.1:0").unwrap();
    for bad in ["0", "-1", "abc", "1.5", "99999999999999999999"] {
        assert_error(
            &get(&server, &format!("/debug/pprof/mutex?seconds={bad}")),
            400,
            r#"invalid value for "seconds" - must be a positive integer"#,
        );
    }
    assert_error(
        &get(&server, "/debug/pprof/block?seconds=1&debug=1"),
        400,
        "seconds and debug params are incompatible",
    );
    assert_error(
        &get(&server, "/debug/pprof/block?seconds=31"),
        400,
        "at most 30",
    );
    // The default cap is 300 seconds.
    let default = local();
    assert_error(
        &get(&default, "/debug/pprof/mutex?seconds=100000"),
        400,
        "at most 300",
    );
    // An empty value is no parameter (Go's FormValue).
    assert_attachment(&get(&server, "/debug/pprof/mutex?seconds="), "mutex");
}

#[test]
fn goroutine_shows_threads_and_what_they_wait_for() {
    let server = local();
    let (m, site) = (Arc::new(Mutex::new(0u64)), here!());
    let guard = m.lock().unwrap();
    let waiter = {
        let m = m.clone();
        holdup::thread::Builder::new()
            .name("http-test-waiter".into())
            .spawn(move || http_waiter(&m))
            .unwrap()
    };
    // Wait until the thread shows as waiting.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let r = get(&server, "/debug/pprof/goroutine?debug=1");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        let text = r.text();
        if text.contains(&format!("\"lock\":\"{site}\"")) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(text.starts_with("goroutine profile: total "), "{text}");
    let group = text
        .split("\n\n")
        .find(|g| g.contains(&format!("\"lock\":\"{site}\"")))
        .expect("the waiter's group");
    assert!(group.contains("\"wait\":\"mutex\""), "{group}");
    assert!(group.contains("\"held_by\":\"thread "), "{group}");
    assert!(
        group.contains("holdup::sync::mutex::Mutex<T>::lock"),
        "{group}"
    );
    assert!(group.contains("http_waiter"), "{group}");

    let p = assert_attachment(&get(&server, "/debug/pprof/goroutine"), "goroutine");
    let view = ProfileView::new(&p).unwrap();
    assert_eq!(view.sample_types(), [("goroutine", "count")]);
    assert!(
        p.sample
            .iter()
            .any(|s| view.label(s, "thread") == Some("http-test-waiter")
                && view.label(s, "wait") == Some("mutex")),
        "no waiting thread in the goroutine profile"
    );

    // debug=2: one entry per thread, also served as /debug/pprof/threads.
    for path in [
        "/debug/pprof/goroutine?debug=2",
        "/debug/pprof/threads?debug=2",
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        let text = r.text();
        assert!(text.starts_with("thread dump: "), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("\"http-test-waiter\" [mutex wait, ")
                    && l.contains(&format!("lock {site} held by thread "))),
            "{text}"
        );
    }
    drop(guard);
    waiter.join().unwrap();
}

#[test]
fn threadcreate_counts_spawns_per_site() {
    let server = local();
    let mut site_line = 0;
    for _ in 0..3 {
        let (thread, line) = (holdup::thread::spawn(|| {}), line!());
        thread.join().unwrap();
        site_line = line;
    }
    let p = assert_attachment(&get(&server, "/debug/pprof/threadcreate"), "threadcreate");
    let view = ProfileView::new(&p).unwrap();
    assert_eq!(view.sample_types(), [("threadcreate", "count")]);
    let at_site: i64 = p
        .sample
        .iter()
        .filter(|s| {
            view.frames(s)
                .iter()
                .any(|f| f.file.ends_with("http.rs") && f.line == i64::from(site_line))
        })
        .map(|s| s.value[0])
        .sum();
    assert_eq!(at_site, 3);
    let text = get(&server, "/debug/pprof/threadcreate?debug=1").text();
    assert!(text.starts_with("threadcreate profile: total "), "{text}");
    // A delta of a count profile over a quiet window is empty but valid.
    let r = get(&server, "/debug/pprof/threadcreate?seconds=1");
    assert_attachment(&r, "threadcreate-delta");
}

#[test]
fn cmdline_and_symbol() {
    let server = local();
    let r = get(&server, "/debug/pprof/cmdline");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_nosniff(&r);
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(r.text(), args.join("\0"));

    let pc = http_waiter as *const () as usize + 1;
    let r = get(&server, &format!("/debug/pprof/symbol?{pc:#x}+0x1"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        format!("num_symbols: 1\n{pc:#x} http::http_waiter\n")
    );
    let r = reply(
        agent()
            .post(url(&server, "/debug/pprof/symbol"))
            .send(format!("{pc}+{pc:#x}").as_bytes()),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        format!("num_symbols: 1\n{pc:#x} http::http_waiter\n{pc:#x} http::http_waiter\n")
    );
    // No addresses: just the header, which is how pprof asks whether symbols are served.
    assert_eq!(
        get(&server, "/debug/pprof/symbol").text(),
        "num_symbols: 1\n"
    );
}

#[test]
fn statuses_for_unknown_paths_methods_and_missing_endpoints() {
    let server = local();
    assert_error(&get(&server, "/debug/pprof/heapz"), 404, "Unknown profile");
    let r = get(&server, "/elsewhere");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "404 page not found\n");

    let r = reply(
        agent()
            .post(url(&server, "/debug/pprof/mutex"))
            .send(&b""[..]),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = reply(agent().delete(url(&server, "/debug/pprof/symbol")).call());
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
}

#[test]
fn remote_binding_needs_opt_in_and_a_token() {
    let e = holdup::http::serve("0.0.0.0:0").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RemoteNotAllowed);
    assert!(e.to_string().contains("not a loopback address"), "{e}");
    let e = Builder::new()
        .allow_remote()
        .serve("0.0.0.0:0")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TokenRequired);
    let e = Builder::new()
        .token("0123456789abcdef")
        .serve("0.0.0.0:0")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RemoteNotAllowed);
    for weak in ["short", "sixteen chars with spaces"] {
        let e = Builder::new().token(weak).serve("127.0.0.1:0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidToken, "{weak}");
    }
    // Both opt-ins: serves on every interface.
    let server = Builder::new()
        .allow_remote()
        .token("0123456789abcdef")
        .serve("0.0.0.0:0")
        .unwrap();
    assert!(server.local_addr().ip().is_unspecified());
    server.shutdown();
    // Binding an address in use reports it.
    let first = local();
    let e = holdup::http::serve(first.local_addr()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Bind);
}

#[test]
fn requests_without_the_right_token_get_401() {
    let token = "s3cr3t-t0ken-of-some-length";
    let server = Builder::new().token(token).serve("127.0.0.1:0").unwrap();
    let r = get(&server, "/debug/pprof/mutex");
    assert_error(&r, 401, "bearer token");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"holdup\"")
    );
    for wrong in [
        "Bearer s3cr3t-t0ken-of-some-lengtH",
        "Bearer s3cr3t",
        "Basic czNjcjN0",
        token,
    ] {
        let r = reply(
            agent()
                .get(url(&server, "/debug/pprof/"))
                .header("authorization", wrong)
                .call(),
        );
        assert_eq!(r.status, 401, "{wrong}");
    }
    let r = reply(
        agent()
            .get(url(&server, "/debug/pprof/mutex"))
            .header("authorization", format!("Bearer {token}"))
            .call(),
    );
    assert_attachment(&r, "mutex");
}

#[test]
fn excess_concurrent_requests_get_503_and_the_workload_keeps_running() {
    let server = Builder::new()
        .max_concurrent_requests(8)
        .serve("127.0.0.1:0")
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let worker = {
        let (done, progress) = (done.clone(), progress.clone());
        let m = Arc::new(Mutex::new(0u64));
        holdup::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                *m.lock().unwrap() += 1;
                progress.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(100));
            }
        })
    };
    let start = progress.load(Ordering::Relaxed);
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let url = url(&server, "/debug/pprof/block?seconds=5");
            std::thread::spawn(move || reply(agent().get(url).call()).status)
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let unavailable = statuses.iter().filter(|&&s| s == 503).count();
    assert_eq!(ok + unavailable, 200, "{statuses:?}");
    assert!(ok >= 8, "{ok} served");
    assert!(unavailable >= 100, "only {unavailable} answered 503");
    assert!(
        progress.load(Ordering::Relaxed) > start,
        "the workload stalled while the server was flooded"
    );
    // Still serving afterwards.
    assert_attachment(&get(&server, "/debug/pprof/mutex"), "mutex");
    done.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}

/// Sends raw bytes and reads until the server answers and closes, or times out.
fn raw_exchange(addr: SocketAddr, request: &[u8], half_close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn slow_and_oversized_requests_are_cut_off() {
    let server = Builder::new()
        .header_read_timeout(Duration::from_millis(300))
        .max_request_bytes(16 << 10)
        .serve("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    // Headers that never finish: the connection is closed (408 or nothing), well before the
    // 30 s client timeout.
    let started = Instant::now();
    let got = raw_exchange(addr, b"GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n", false);
    assert!(started.elapsed() < Duration::from_secs(20));
    let got = String::from_utf8_lossy(&got);
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "{got}");

    // A head larger than the limit.
    let big = format!(
        "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 << 10)
    );
    let got = raw_exchange(addr, big.as_bytes(), false);
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // A body larger than the limit.
    let r = reply(
        agent()
            .post(url(&server, "/debug/pprof/symbol"))
            .send(vec![b'1'; 64 << 10].as_slice()),
    );
    assert_error(&r, 413, "larger than");
    // A body that stalls.
    let got = raw_exchange(
        addr,
        b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0x1",
        false,
    );
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // And the server still serves.
    assert_eq!(get(&server, "/debug/pprof/cmdline").status, 200);
}

#[test]
fn connections_beyond_the_limit_and_stalled_readers_are_dropped() {
    let server = Builder::new()
        .max_connections(1)
        .write_timeout(Duration::from_millis(300))
        .header_read_timeout(Duration::from_secs(60))
        .serve("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let served = |addr| {
        raw_exchange(
            addr,
            b"GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            false,
        )
        .starts_with(b"HTTP/1.1 200")
    };
    let wait_until_served = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !served(addr) {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // An idle connection takes the only slot; the next one is closed without an answer.
    let idle = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!served(addr), "served beyond the connection limit");
    drop(idle);
    wait_until_served("the slot of a closed connection never freed up");

    // A client that pipelines requests for large answers and never reads them: once the
    // server's writes stall for the write timeout, the connection is dropped and the slot
    // frees up. (Each answer names 2,000 addresses, ~80 KB; 2,000 of them exceed any socket
    // buffer.)
    let mut stalled = TcpStream::connect(addr).unwrap();
    let pc = http_waiter as *const () as usize + 1;
    let query = vec![format!("{pc:#x}"); 2_000].join("+");
    let request = format!("GET /debug/pprof/symbol?{query} HTTP/1.1\r\nHost: x\r\n\r\n");
    stalled.write_all(request.as_bytes()).unwrap();
    let mut first = [0u8; 12];
    stalled.read_exact(&mut first).unwrap();
    assert_eq!(
        &first, b"HTTP/1.1 200",
        "the stalling connection is not being served"
    );
    let writer = {
        let mut stalled = stalled.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..2_000 {
                if stalled.write_all(request.as_bytes()).is_err() {
                    return;
                }
            }
        })
    };
    wait_until_served("the stalled connection was never dropped");
    // The server closed it: reading what it sent ends in EOF or a reset, not a timeout.
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    if let Err(e) = stalled.read_to_end(&mut rest) {
        assert_ne!(
            e.kind(),
            std::io::ErrorKind::WouldBlock,
            "the stalled connection is still open"
        );
    }
    writer.join().unwrap();
}

#[test]
fn shutdown_answers_waiting_requests_and_stops_listening() {
    let server = local();
    let addr = server.local_addr();
    // On one connection: a quick request proves it is being served, then a long delta.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET /debug/pprof/cmdline HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    s.write_all(b"GET /debug/pprof/block?seconds=120 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(60));
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.starts_with("HTTP/1.1 503"), "{rest}");
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after shutdown"
    );
}

#[test]
fn dropping_the_server_stops_it() {
    let server = local();
    let addr = server.local_addr();
    assert_eq!(get(&server, "/debug/pprof/cmdline").status, 200);
    drop(server);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_detached_server_keeps_serving() {
    let server = local();
    let url = url(&server, "/debug/pprof/cmdline");
    server.detach();
    assert_eq!(reply(agent().get(url).call()).status, 200);
}

#[test]
fn go_tool_pprof_reads_a_live_server() {
    let Some(go) = common::go() else { return };
    let server = local();
    let m = Arc::new(Mutex::new(0u64));
    contend(&m, Duration::from_millis(30));
    let tmp = std::env::temp_dir().join(format!("holdup-http-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let pprof = |path: &str| {
        let out = std::process::Command::new(&go)
            .args(["tool", "pprof", "-raw"])
            .arg(url(&server, path))
            .env("PPROF_TMPDIR", &tmp)
            .output()
            .expect("run go tool pprof");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "go tool pprof -raw {path}: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    };
    let raw = pprof("/debug/pprof/mutex");
    assert!(raw.contains("PeriodType: contentions count"), "{raw}");
    assert!(raw.contains("http::contend::{{closure}}"), "{raw}");

    // A delta: contention during the window shows, on the waiter's stack.
    let during = {
        let m = m.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            contend(&m, Duration::from_millis(30));
        })
    };
    let raw = pprof("/debug/pprof/block?seconds=2");
    during.join().unwrap();
    assert!(raw.contains("http::http_waiter"), "{raw}");
    assert!(raw.contains("Duration: 2"), "{raw}");
    let _ = std::fs::remove_dir_all(&tmp);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("GET".to_owned()),
            Just("POST".to_owned()),
            Just("HEAD".to_owned()),
            Just("OPTIONS".to_owned()),
            "[A-Z]{0,8}",
            "\\PC{0,8}",
        ]
    }

    fn target() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("".to_owned()),
            Just("mutex".to_owned()),
            Just("block".to_owned()),
            Just("goroutine".to_owned()),
            Just("threadcreate".to_owned()),
            Just("symbol".to_owned()),
            Just("cmdline".to_owned()),
            "[a-z%./]{0,12}",
        ];
        let query = prop_oneof![
            Just(String::new()),
            "\\?(debug|seconds|gc)=[-0-9a-z%]{0,6}(&(debug|seconds)=[-0-9x]{0,4}){0,3}",
            "\\?[ -~]{0,24}",
            "\\?\\PC{0,12}",
        ];
        (
            prop_oneof![Just("/debug/pprof/".to_owned()), "/[ -~]{0,16}"],
            name,
            query,
        )
            .prop_map(|(prefix, name, query)| format!("{prefix}{name}{query}"))
    }

    fn header() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"Host: x".to_vec()),
            Just(b"Content-Length: 5".to_vec()),
            Just(b"Content-Length: -1".to_vec()),
            Just(b"Transfer-Encoding: chunked".to_vec()),
            Just(b"Authorization: Bearer x".to_vec()),
            Just(b"Expect: 100-continue".to_vec()),
            "[A-Za-z-]{0,12}: [ -~]{0,24}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    fn request() -> impl Strategy<Value = Vec<u8>> {
        (
            token(),
            target(),
            prop_oneof![
                Just("HTTP/1.1"),
                Just("HTTP/1.0"),
                Just("HTTP/2.0"),
                Just("")
            ],
            proptest::collection::vec(header(), 0..6),
            proptest::collection::vec(any::<u8>(), 0..64),
            prop_oneof![Just("\r\n"), Just("\n"), Just("\r")],
        )
            .prop_map(|(method, target, version, headers, body, eol)| {
                let mut r = format!("{method} {target} {version}{eol}").into_bytes();
                for h in headers {
                    r.extend_from_slice(&h);
                    r.extend_from_slice(eol.as_bytes());
                }
                r.extend_from_slice(eol.as_bytes());
                r.extend_from_slice(&body);
                r
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever arrives, the server answers with HTTP or closes, and keeps serving.
        #[test]
        fn random_requests_get_an_answer_or_a_close(requests in proptest::collection::vec(request(), 1..4)) {
            let server = shared_server();
            let addr = server.local_addr();
            for r in &requests {
                let got = raw_exchange(addr, r, true);
                prop_assert!(
                    got.is_empty() || got.starts_with(b"HTTP/1."),
                    "not HTTP: {:?}", String::from_utf8_lossy(&got)
                );
            }
            let r = get(server, "/debug/pprof/cmdline");
            prop_assert_eq!(r.status, 200);
        }
    }

    fn shared_server() -> &'static Server {
        static SERVER: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
        SERVER.get_or_init(|| {
            Builder::new()
                .max_seconds(1)
                .header_read_timeout(Duration::from_millis(500))
                .serve("127.0.0.1:0")
                .unwrap()
        })
    }
}

/// `/debug/pprof/trace?seconds=N`: a Perfetto trace of the window as an attachment named
/// `trace`; Go's parsing of `seconds` (a float, 1 if invalid), the server's cap, and Go's 500
/// for a second trace while one runs.
#[test]
fn trace_endpoint_records_the_window() {
    let _serial = holdup_core::trace::test_lock();
    let server = Builder::new().max_seconds(5).serve("127.0.0.1:0").unwrap();
    assert_error(
        &get(&server, "/debug/pprof/trace?seconds=6"),
        400,
        "at most 5",
    );
    let lock = Arc::new(Mutex::new(0u64));
    let traced = std::thread::scope(|s| {
        let request = s.spawn(|| get(&server, "/debug/pprof/trace?seconds=0.8"));
        std::thread::sleep(Duration::from_millis(200));
        // A second trace while the first records: Go's 500.
        assert_error(
            &get(&server, "/debug/pprof/trace?seconds=0.1"),
            500,
            "Could not enable tracing: tracing is already enabled",
        );
        // Contention inside the window.
        let g = lock.lock().unwrap();
        let waiter = s.spawn(|| *lock.lock().unwrap() += 1);
        std::thread::sleep(Duration::from_millis(50));
        drop(g);
        waiter.join().unwrap();
        request.join().unwrap()
    });
    assert_eq!(traced.status, 200, "{}", traced.text());
    assert_eq!(
        traced.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        traced.header("content-disposition"),
        Some("attachment; filename=\"trace\"")
    );
    let view = holdup_pprof::perfetto::TraceView::decode(&traced.body).expect("a Perfetto trace");
    assert!(
        view.slices().iter().any(|s| s.name == "mutex wait"),
        "{:#?}",
        view.slices()
    );
    // The window is over: a new one may start (an invalid `seconds` means 1 s, as in Go).
    let again = get(&server, "/debug/pprof/trace?seconds=abc");
    assert_eq!(again.status, 200);
    assert!(!holdup::trace::is_enabled());
}

/// `/debug/pprof/profile`: Go's CPU profile shape, Go's error for a second concurrent request,
/// the cap as a 400.
/// Spins on a thread named `name` for `how_long`, and returns when it is done.
fn spin_in_thread<'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    how_long: Duration,
) {
    let spinner = std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(s, move || {
            let start = Instant::now();
            let mut x = 1u64;
            while start.elapsed() < how_long {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            x
        })
        .unwrap();
    std::hint::black_box(spinner.join().unwrap());
}

/// The CPU sampler serves one profile at a time (CPU or wall-clock): those tests take turns.
static SAMPLER: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cpu_profile_endpoint_samples_every_thread() {
    let _sampler = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Builder::new().max_seconds(5).serve("127.0.0.1:0").unwrap();
    assert_error(
        &get(&server, "/debug/pprof/profile?seconds=6"),
        400,
        "at most 5",
    );
    let profile = std::thread::scope(|s| {
        let request = s.spawn(|| get(&server, "/debug/pprof/profile?seconds=1"));
        std::thread::sleep(Duration::from_millis(200));
        assert_error(
            &get(&server, "/debug/pprof/profile?seconds=1"),
            500,
            "Could not enable CPU profiling: cpu profiling already in use",
        );
        // Something to sample.
        spin_in_thread(s, "http-spinner", Duration::from_millis(500));
        request.join().unwrap()
    });
    let p = assert_attachment(&profile, "profile");
    let view = ProfileView::new(&p).unwrap();
    assert_eq!(
        view.sample_types(),
        [("samples", "count"), ("cpu", "nanoseconds")]
    );
    assert_eq!(p.period, 10_000_000);
    assert!(p.duration_nanos >= 900_000_000, "{}", p.duration_nanos);
    let spinner: i64 = p
        .sample
        .iter()
        .filter(|s| view.label(s, "thread") == Some("http-spinner"))
        .map(|s| s.value[0])
        .sum();
    assert!(
        spinner >= 20,
        "{spinner} samples of a thread spinning 0.5 s"
    );
}

#[test]
fn wall_endpoint_shows_running_and_waiting() {
    let _sampler = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Builder::new().max_seconds(5).serve("127.0.0.1:0").unwrap();
    assert_error(
        &get(&server, "/debug/holdup/wall?seconds=6"),
        400,
        "at most 5",
    );
    assert_error(
        &get(&server, "/debug/holdup/nothing"),
        404,
        "Unknown profile",
    );
    let lock = std::sync::Arc::new(holdup::sync::Mutex::new(()));
    let guard = lock.lock().unwrap();
    let profile = std::thread::scope(|s| {
        let waiter = {
            let lock = lock.clone();
            std::thread::Builder::new()
                .name("http-wall-waiter".into())
                .spawn_scoped(s, move || drop(lock.lock().unwrap()))
                .unwrap()
        };
        let request = s.spawn(|| get(&server, "/debug/holdup/wall?seconds=1"));
        std::thread::sleep(Duration::from_millis(200));
        // One sampler: the CPU profile waits its turn.
        assert_error(
            &get(&server, "/debug/pprof/profile?seconds=1"),
            500,
            "Could not enable CPU profiling: cpu profiling already in use",
        );
        spin_in_thread(s, "wall-spinner", Duration::from_millis(500));
        let profile = request.join().unwrap();
        drop(guard);
        waiter.join().unwrap();
        profile
    });
    let p = assert_attachment(&profile, "wall");
    let view = ProfileView::new(&p).unwrap();
    assert_eq!(
        view.sample_types(),
        [("samples", "count"), ("wall", "nanoseconds")]
    );
    assert_eq!(p.period, 10_000_000);
    let sum = |thread: &str, state: &str| -> i64 {
        p.sample
            .iter()
            .filter(|s| {
                view.label(s, "thread") == Some(thread) && view.label(s, "state") == Some(state)
            })
            .map(|s| s.value[1])
            .sum()
    };
    let waited = sum("http-wall-waiter", "waiting");
    assert!(waited >= 600_000_000, "{waited} ns waiting of ~1 s");
    let ran = sum("wall-spinner", "running");
    assert!(ran >= 200_000_000, "{ran} ns running of ~0.5 s");
    assert!(
        p.sample
            .iter()
            .any(|s| view.label(s, "kind") == Some("mutex"))
    );
}
