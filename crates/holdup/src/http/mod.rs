//! `/debug/pprof/` over HTTP, as Go's `net/http/pprof` serves it, so that `go tool pprof URL`,
//! `curl`, Grafana Alloy and Parca work against a Rust program unchanged.
//!
//! ```no_run
//! let server = holdup::http::serve("127.0.0.1:6060")?; // its own thread; no tokio needed
//! println!("pprof on http://{}/debug/pprof/", server.local_addr());
//! // ... the program runs; dropping `server` (or `server.shutdown()`) stops it.
//! # Ok::<(), holdup::http::Error>(())
//! ```
//! ```text
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/mutex
//! curl 'http://127.0.0.1:6060/debug/pprof/goroutine?debug=1'
//! curl -o block.pb.gz 'http://127.0.0.1:6060/debug/pprof/block?seconds=10'
//! ```
//!
//! # Endpoints
//!
//! | Path | What |
//! |---|---|
//! | `/debug/pprof/` | HTML index of the profiles, with counts |
//! | `/debug/pprof/mutex`, `/debug/pprof/block` | [`profile::mutex`](crate::profile::mutex), [`profile::block`](crate::profile::block) |
//! | `/debug/pprof/goroutine`, `/debug/pprof/threads` | a [thread dump](crate::dump) of every thread: `debug=0` a `goroutine/count` profile (labels `wait`, `lock`, `held_by`), `debug=1` grouped like Go's (plus `# deadlock:` lines), `debug=2` one entry per thread with its wait, the lock's holder and the spawn site, then the deadlocks |
//! | `/debug/pprof/threadcreate` | threads ever spawned through `holdup::thread`, per spawn site |
//! | `/debug/pprof/cmdline` | the command line, NUL-separated |
//! | `/debug/pprof/symbol` | Go's symbolizer protocol (GET or POST) |
//! | `/debug/pprof/trace` | an [execution trace](crate::trace) of the next `seconds` (1 by default, a float as in Go), in Perfetto's format |
//! | `/debug/pprof/profile` | the [CPU profile](crate::profile::cpu) of the next `seconds` (30 by default, an integer as in Go) |
//! | `/debug/holdup/wall` | holdup's [wall-clock view](crate::profile::wall) of the next `seconds` (as `profile`): on-CPU time plus time waiting in holdup primitives, labelled `state=running\|waiting`; it shares the CPU profile's sampler, so one of the two runs at a time |
//!
//! Profiles take Go's parameters: `debug=1` for the legacy text format, `seconds=N` for what
//! happened in the next N seconds (a delta, capped by [`Builder::max_seconds`]). Responses
//! carry Go's headers and status codes; errors are plain text with `X-Go-Pprof: 1`.
//!
//! # Security
//!
//! Profiles reveal code paths, file names, lock sites and the command line (which may hold
//! secrets), and every request costs CPU. So [`serve`] binds to loopback addresses only;
//! any other address is refused with [`ErrorKind::RemoteNotAllowed`]. Serving on other
//! interfaces takes an explicit [`Builder::allow_remote`] **and** a bearer
//! [`token`](Builder::token) (at least 16 characters); requests without
//! `Authorization: Bearer <token>` then get 401 (compared in constant time). There is no TLS:
//! put a TLS-terminating proxy in front for traffic that leaves the host.
//!
//! Limits protect the host program: at most [`max_concurrent_requests`](Builder::max_concurrent_requests)
//! requests are served at once (more get 503), at most [`max_connections`](Builder::max_connections)
//! connections are open, request headers must arrive within
//! [`header_read_timeout`](Builder::header_read_timeout) and fit in
//! [`max_request_bytes`](Builder::max_request_bytes), POST bodies must too, and a client that
//! stops reading its response is dropped after [`write_timeout`](Builder::write_timeout).
//! A malformed request gets a 4xx or a closed connection; a failure while serving one is
//! answered with 500 and never reaches the host program.
//!
//! # Scrapers
//!
//! Grafana Alloy's `pyroscope.scrape` and Parca scrape these paths as they scrape Go programs;
//! the README has configuration for both.
//!
//! # Inside an axum application
//!
//! With the `axum` feature, [`router`] (or [`Builder::router`]) gives the same endpoints as an
//! `axum::Router` to merge into the application's own, on its runtime and listener.

mod handler;
mod server;

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

pub use server::Server;

/// The shortest bearer token accepted.
const MIN_TOKEN_LEN: usize = 16;

/// Starts serving `/debug/pprof/` on `addr` with the default limits, on a background thread.
///
/// `addr` must be a loopback address such as `127.0.0.1:6060`, `[::1]:6060` or
/// `localhost:6060`; port 0 picks a free port ([`Server::local_addr`] tells which). For other
/// addresses see [`Builder::allow_remote`].
///
/// ```
/// let server = holdup::http::serve("127.0.0.1:0")?;
/// let addr = server.local_addr();
/// assert!(addr.ip().is_loopback());
/// server.shutdown();
/// assert!(holdup::http::serve("0.0.0.0:0").is_err()); // remote access needs an opt-in
/// # Ok::<(), holdup::http::Error>(())
/// ```
pub fn serve(addr: impl ToSocketAddrs) -> Result<Server, Error> {
    Builder::new().serve(addr)
}

/// The `/debug/pprof/` endpoints as an axum `Router` with the default limits, to merge into an
/// application that already serves HTTP with axum (it then owns the listener: bind it to a
/// trusted interface, or use [`Builder::token`]).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let app = axum::Router::new().merge(holdup::http::router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:6060").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub fn router() -> axum::Router {
    server::router(Arc::new(Builder::new().config))
}

/// Options for the `/debug/pprof/` server: remote access, a bearer token, and limits.
///
/// ```
/// use std::time::Duration;
///
/// let server = holdup::http::Builder::new()
///     .max_seconds(60)
///     .max_concurrent_requests(4)
///     .header_read_timeout(Duration::from_secs(5))
///     .serve("127.0.0.1:0")?;
/// # drop(server);
/// # Ok::<(), holdup::http::Error>(())
/// ```
///
/// Serving beyond the host takes both an opt-in and a token:
///
/// ```no_run
/// let token = std::env::var("PPROF_TOKEN").expect("a long random token");
/// let server = holdup::http::Builder::new().allow_remote().token(token).serve("0.0.0.0:6060")?;
/// # drop(server);
/// # Ok::<(), holdup::http::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    config: Config,
}

/// What the server and the handler need to know about the options.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) token: Option<String>,
    pub(crate) allow_remote: bool,
    pub(crate) max_seconds: u64,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_request_bytes: usize,
    pub(crate) shutdown_grace: Duration,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Builder")
            .field("token", &c.token.as_ref().map(|_| "<redacted>"))
            .field("allow_remote", &c.allow_remote)
            .field("max_seconds", &c.max_seconds)
            .field("max_concurrent_requests", &c.max_concurrent_requests)
            .field("max_connections", &c.max_connections)
            .field("header_read_timeout", &c.header_read_timeout)
            .field("write_timeout", &c.write_timeout)
            .field("max_request_bytes", &c.max_request_bytes)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Loopback only, no token, `seconds` up to 300, 8 requests at once, 256 connections,
    /// 10 s to send request headers, 30 s for a stalled response write, 1 MiB per request.
    pub fn new() -> Self {
        Builder {
            config: Config {
                token: None,
                allow_remote: false,
                max_seconds: 300,
                max_concurrent_requests: 8,
                max_connections: 256,
                header_read_timeout: Duration::from_secs(10),
                body_read_timeout: Duration::from_secs(10),
                write_timeout: Duration::from_secs(30),
                max_request_bytes: 1 << 20,
                shutdown_grace: Duration::from_secs(5),
            },
        }
    }

    /// Requires `Authorization: Bearer <token>` on every request; others get 401. The token
    /// must be at least 16 printable ASCII characters; use a long random one.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// Allows binding to addresses other than loopback (such as `0.0.0.0`). Requires a
    /// [`token`](Self::token): anyone who can reach the port could otherwise read the profiles
    /// and the command line, and make the program do work.
    pub fn allow_remote(mut self) -> Self {
        self.config.allow_remote = true;
        self
    }

    /// The longest `?seconds=N` delta a request may ask for (default 300); longer ones get 400.
    pub fn max_seconds(mut self, seconds: u64) -> Self {
        self.config.max_seconds = seconds.max(1);
        self
    }

    /// How many requests are served at once (default 8, at least 1), including delta requests
    /// waiting out their seconds; more get 503 at once.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.config.max_concurrent_requests = n.max(1);
        self
    }

    /// How many connections may be open (default 256, at least 1); connections beyond it are
    /// closed as soon as they are accepted.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n.max(1);
        self
    }

    /// How long a client has to send a request's headers (default 10 s), also the longest an
    /// idle keep-alive connection stays open. A POST body must arrive within the same time.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout.max(Duration::from_millis(1));
        self.config.body_read_timeout = self.config.header_read_timeout;
        self
    }

    /// How long writing a response may stall on a client that does not read (default 30 s)
    /// before the connection is dropped.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The largest request head (request line and headers; default and at most 1 MiB, at
    /// least 8 KiB) and the largest POST body (same limit). Larger heads get 431, larger
    /// bodies 413.
    pub fn max_request_bytes(mut self, n: usize) -> Self {
        self.config.max_request_bytes = n.clamp(8 << 10, 1 << 20);
        self
    }

    /// Binds `addr` and starts serving on a background thread named `holdup-http`.
    pub fn serve(self, addr: impl ToSocketAddrs) -> Result<Server, Error> {
        self.check_token()?;
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::InvalidAddress,
                    "cannot resolve the address to serve on".into(),
                    e,
                )
            })?
            .collect();
        if addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidAddress,
                "the address resolved to nothing".into(),
            ));
        }
        if !self.config.allow_remote
            && let Some(remote) = addrs.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(Error::new(
                ErrorKind::RemoteNotAllowed,
                format!(
                    "refusing to serve /debug/pprof/ on {remote}: it is not a loopback address. Profiles reveal code \
                     paths, lock sites and the command line, and requests make the program work. Serve on \
                     127.0.0.1, or opt in with holdup::http::Builder::new().allow_remote().token(..)"
                ),
            ));
        }
        if self.config.allow_remote && self.config.token.is_none() {
            return Err(Error::new(
                ErrorKind::TokenRequired,
                "allow_remote() requires a bearer token: holdup::http::Builder::new().allow_remote().token(..)".into(),
            ));
        }
        let listener = std::net::TcpListener::bind(&addrs[..]).map_err(|e| {
            Error::with_source(
                ErrorKind::Bind,
                format!("cannot listen on {}", list(&addrs)),
                e,
            )
        })?;
        server::start(listener, Arc::new(self.config))
    }

    /// These endpoints as an axum `Router`, with this builder's token, `seconds` cap and
    /// request limit (connections, timeouts and sizes are the application's server's
    /// business). Fails only for an invalid [`token`](Self::token).
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn router(self) -> Result<axum::Router, Error> {
        self.check_token()?;
        Ok(server::router(Arc::new(self.config)))
    }

    fn check_token(&self) -> Result<(), Error> {
        match &self.config.token {
            Some(t) if t.len() < MIN_TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(Error::new(
                    ErrorKind::InvalidToken,
                    format!(
                        "the bearer token must be at least {MIN_TOKEN_LEN} printable ASCII characters without spaces"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the server could not start.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<io::Error>,
}

/// What kind of [`Error`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The address is not loopback and [`Builder::allow_remote`] was not given.
    RemoteNotAllowed,
    /// [`Builder::allow_remote`] was given without a [`Builder::token`].
    TokenRequired,
    /// The token is too short or has characters a header cannot carry.
    InvalidToken,
    /// The address could not be resolved.
    InvalidAddress,
    /// Binding the address failed (in use, permission denied, ...).
    Bind,
    /// The server thread or its runtime could not be started.
    Start,
}

impl Error {
    fn new(kind: ErrorKind, message: String) -> Self {
        Error {
            kind,
            message,
            source: None,
        }
    }

    fn with_source(kind: ErrorKind, message: String, source: io::Error) -> Self {
        Error {
            kind,
            message,
            source: Some(source),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "holdup::http: {}", self.message)?;
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.kind {
            ErrorKind::Bind | ErrorKind::Start => e
                .source
                .as_ref()
                .map_or(io::ErrorKind::Other, io::Error::kind),
            ErrorKind::RemoteNotAllowed | ErrorKind::TokenRequired => {
                io::ErrorKind::PermissionDenied
            }
            ErrorKind::InvalidToken | ErrorKind::InvalidAddress => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let b = Builder::new().token("0123456789abcdef-secret");
        assert!(!format!("{b:?}").contains("secret"));
    }
}
