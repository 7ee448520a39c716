//! A receiver's URL, checked once at start. A webhook URL often carries its secret
//! (a token in the path or the query, a user and password): only
//! `scheme://host:port` of it is ever logged or printed.

use std::fmt;

use reqwest::Url;

/// A receiver to POST to: http or https, with a host.
#[derive(Clone)]
pub struct Endpoint {
    url: Url,
    shown: String,
}

impl Endpoint {
    /// `text` as given to `flag` (`--notify`, `--alertmanager`), or why it cannot be
    /// used; the error names the flag and never repeats the URL's secret parts.
    pub fn parse(flag: &str, text: &str) -> Result<Endpoint, String> {
        let url = Url::parse(text.trim())
            .map_err(|e| format!("{flag}: not a URL ({e}); write http(s)://host[:port]/path"))?;
        let shown = shown(&url);
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "{flag}: {shown} is not http or https (the only schemes it posts to)"
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{flag}: {shown} has no host"));
        }
        Ok(Endpoint { url, shown })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `scheme://host:port`: what logs and messages may say of it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The same receiver with `path` in place of its path and no query (Alertmanager's
    /// API under the base URL given).
    pub fn with_path(&self, path: &str) -> Endpoint {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url.set_query(None);
        Endpoint {
            url,
            shown: self.shown.clone(),
        }
    }
}

fn shown(url: &Url) -> String {
    let scheme = crate::sanitize::line(url.scheme());
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{scheme}://{}:{port}", crate::sanitize::line(host)),
        (Some(host), None) => format!("{scheme}://{}", crate::sanitize::line(host)),
        (None, _) => format!("{scheme}:"),
    }
}

/// Only the shown part, so that no `{:?}` can leak the rest.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.shown)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheme_host_and_port_are_ever_shown() {
        let e = Endpoint::parse(
            "--notify",
            "https://bot:hunter2@chat.example:8443/hooks/T0KEN?key=s3cret",
        )
        .unwrap();
        for text in [e.shown().to_owned(), format!("{e}"), format!("{e:?}")] {
            assert!(text.contains("https://chat.example:8443"), "{text}");
            for secret in ["hunter2", "bot", "T0KEN", "s3cret", "hooks"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert_eq!(
            e.url().path(),
            "/hooks/T0KEN",
            "the URL itself is kept whole"
        );
        let plain = Endpoint::parse("--notify", "http://127.0.0.1/").unwrap();
        assert_eq!(plain.shown(), "http://127.0.0.1:80");
    }

    #[test]
    fn a_bad_url_is_refused_naming_the_flag_without_its_secret() {
        for (text, says) in [
            ("ftp://files.example/T0KEN", "not http or https"),
            ("chat.example/hooks/T0KEN", "not a URL"),
            ("", "not a URL"),
            ("mailto:T0KEN@example.org", "not http or https"),
        ] {
            let error = Endpoint::parse("--alertmanager", text).unwrap_err();
            assert!(error.starts_with("--alertmanager: "), "{error}");
            assert!(error.contains(says), "{error}");
            assert!(!error.contains("T0KEN"), "{error}");
        }
    }

    #[test]
    fn the_api_path_goes_under_the_base_and_drops_the_query() {
        let am = Endpoint::parse("--alertmanager", "http://am:9093/prefix/?x=1").unwrap();
        assert_eq!(
            am.with_path("/api/v2/alerts").url().as_str(),
            "http://am:9093/prefix/api/v2/alerts"
        );
        let root = Endpoint::parse("--alertmanager", "http://am:9093").unwrap();
        assert_eq!(
            root.with_path("/api/v2/alerts").url().as_str(),
            "http://am:9093/api/v2/alerts"
        );
    }
}
