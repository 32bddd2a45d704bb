//! Option-tag lists: Supported, Require, Proxy-Require and Unsupported (RFC 3261 §20).

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::is_token;

impl Headers {
    /// Supported option tags (an empty `Supported:` gives none).
    pub fn supported(&self) -> Result<Vec<String>, ParseError> {
        self.option_tags("Supported")
    }

    /// Require option tags.
    pub fn require(&self) -> Result<Vec<String>, ParseError> {
        self.option_tags("Require")
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> Result<Vec<String>, ParseError> {
        self.option_tags("Proxy-Require")
    }

    /// Unsupported option tags.
    pub fn unsupported(&self) -> Result<Vec<String>, ParseError> {
        self.option_tags("Unsupported")
    }

    fn option_tags(&self, name: &'static str) -> Result<Vec<String>, ParseError> {
        let values = self.get_all(name);
        if values.len() == 1 && values.first().is_some_and(|v| v.is_empty()) {
            return Ok(Vec::new());
        }
        values
            .into_iter()
            .map(|t| {
                if is_token(t) {
                    Ok(t.to_string())
                } else {
                    Err(ParseErrorKind::header(name, "option tag is not a token").into())
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::headers::Headers;

    #[test]
    fn tags() {
        let mut h = Headers::new();
        h.push("k", "replaces,join, X-cisco-sis-7.0.0");
        h.push("Supported", "100rel");
        h.push("Require", "");
        h.push("Proxy-Require", "a b");
        assert_eq!(
            h.supported().unwrap(),
            vec!["replaces", "join", "X-cisco-sis-7.0.0", "100rel"]
        );
        assert!(h.require().unwrap().is_empty());
        assert!(h.proxy_require().is_err());
        assert!(h.unsupported().unwrap().is_empty());
    }
}
