//! Where a profile comes from: a file, standard input or an `http(s)` URL; and what its bytes
//! are: gzip'd or plain profile.proto, or one of Go's legacy text formats.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use holdup_pprof::proto::Profile;

/// The most bytes read from a source (a profile larger than this is surely not one).
const MAX_BYTES: u64 = 4 << 30;

/// How to fetch a profile.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fetch {
    /// For URLs: ask for a delta over this many seconds (`?seconds=N`).
    pub(crate) seconds: Option<u64>,
    /// For URLs: give up after this long (default: 30 s plus `seconds`).
    pub(crate) timeout: Option<Duration>,
}

/// A decoded profile and where it came from.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) profile: Profile,
    /// The source as the user named it (with `seconds` added for URLs).
    pub(crate) name: String,
}

/// Reads and decodes the profile at `source`: `-` for standard input, an `http://` or
/// `https://` URL, or a file path.
pub(crate) fn load(source: &str, fetch: &Fetch) -> Result<Loaded> {
    let (bytes, name) = read(source, fetch)?;
    let profile = parse(&bytes).with_context(|| format!("{name} is not a profile"))?;
    Ok(Loaded { profile, name })
}

/// Reads the bytes at `source` (as [`load`] does), and the name to show for it.
pub(crate) fn read(source: &str, fetch: &Fetch) -> Result<(Vec<u8>, String)> {
    if is_url(source) {
        let url = with_seconds(source, fetch.seconds)?;
        let bytes = get(&url, fetch)?;
        Ok((bytes, url))
    } else {
        if fetch.seconds.is_some() {
            eprintln!("holdup: --seconds applies to URLs; reading {source} as it is");
        }
        Ok((read_local(source)?, source.to_owned()))
    }
}

/// Decodes profile bytes: gzip'd or plain profile.proto, or Go's legacy text.
pub(crate) fn parse(bytes: &[u8]) -> Result<Profile> {
    if holdup_pprof::legacy::is_legacy_text(bytes) {
        let text = std::str::from_utf8(bytes).context("legacy text profile is not UTF-8")?;
        return Ok(holdup_pprof::legacy::parse(text)?);
    }
    if bytes.is_empty() {
        bail!("it is empty");
    }
    Ok(holdup_pprof::decode(bytes)?)
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

fn read_local(source: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if source == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_BYTES)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        std::fs::File::open(source)
            .and_then(|f| f.take(MAX_BYTES).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {source}"))?;
    }
    Ok(bytes)
}

/// `url` with `seconds=N` set in its query (replacing any `seconds` already there).
fn with_seconds(url: &str, seconds: Option<u64>) -> Result<String> {
    let Some(seconds) = seconds else {
        return Ok(url.to_owned());
    };
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(b, f)| (b, Some(f)));
    let (path, query) = base.split_once('?').unwrap_or((base, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && *p != "seconds" && !p.starts_with("seconds="))
        .collect();
    let s = format!("seconds={seconds}");
    params.push(&s);
    let mut out = format!("{path}?{}", params.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Ok(out)
}

/// How long the server will take to answer `url`, in seconds: its `seconds` parameter, or for
/// the sampled profiles without one (`/debug/pprof/profile`, `/debug/holdup/wall`) Go's
/// default, 30.
fn waits_for(url: &str) -> u64 {
    let base = url.split_once('#').map_or(url, |(b, _)| b);
    let (path, query) = base.split_once('?').unwrap_or((base, ""));
    let given = query
        .split('&')
        .find_map(|p| p.strip_prefix("seconds="))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0);
    match given {
        Some(v) => v.ceil() as u64,
        None if path.ends_with("/debug/pprof/profile") || path.ends_with("/debug/holdup/wall") => {
            30
        }
        None => 0,
    }
}

fn get(url: &str, fetch: &Fetch) -> Result<Vec<u8>> {
    let waits = waits_for(url);
    let timeout = fetch.timeout.unwrap_or(Duration::from_secs(30 + waits));
    if waits > 0 {
        eprintln!("holdup: fetching {url} (waits {waits} s)");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("holdup/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut request = agent.get(url);
    if let Ok(token) = std::env::var("HOLDUP_TOKEN") {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().map_err(|e| match e {
        ureq::Error::Timeout(_) => {
            anyhow::anyhow!("{url}: no answer within {timeout:?} (--timeout)")
        }
        e => anyhow::anyhow!("{url}: {e}"),
    })?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_vec()
        .with_context(|| format!("{url}: reading the response"))?;
    if !status.is_success() {
        // Servers speaking Go's protocol put the reason in the body (`X-Go-Pprof: 1`).
        let text = String::from_utf8_lossy(&body);
        let reason = text.lines().next().unwrap_or("").trim();
        bail!(
            "{url}: HTTP {status}{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        );
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_comes_from_the_url_or_go_s_default_for_sampled_profiles() {
        assert_eq!(waits_for("http://h/debug/pprof/mutex"), 0);
        assert_eq!(waits_for("http://h/debug/pprof/mutex?seconds=5"), 5);
        assert_eq!(waits_for("http://h/debug/pprof/profile"), 30);
        assert_eq!(waits_for("http://h/debug/pprof/profile?seconds=45"), 45);
        assert_eq!(waits_for("http://h/debug/holdup/wall"), 30);
        assert_eq!(waits_for("http://h/debug/pprof/trace?seconds=0.5"), 1);
        assert_eq!(waits_for("http://h/debug/pprof/block?seconds=x"), 0);
    }

    #[test]
    fn seconds_replaces_the_query_parameter() {
        let u = with_seconds("http://h:1/debug/pprof/mutex", Some(5)).unwrap();
        assert_eq!(u, "http://h:1/debug/pprof/mutex?seconds=5");
        let u = with_seconds("http://h/p?debug=0&seconds=2", Some(5)).unwrap();
        assert_eq!(u, "http://h/p?debug=0&seconds=5");
        assert_eq!(with_seconds("http://h/p", None).unwrap(), "http://h/p");
        assert!(with_seconds("http://h/p", Some(0)).is_err());
    }
}
