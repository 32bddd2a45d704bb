//! Ordered `;name=value` parameter lists (header parameters and URI parameters), kept raw
//! so that unknown parameters print back exactly as they came.

use std::fmt;

use crate::lex::{quote, unquote, Cursor};

/// One parameter. `value` is raw: a quoted value keeps its quotes and escapes (use
/// [`Param::unquoted`] for the content); a URI parameter keeps its `%HH` escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name as received (compare case-insensitively).
    pub name: String,
    /// `None` for a flag parameter such as `lr` or `rport`.
    pub value: Option<String>,
}

impl Param {
    /// The value with quotes and quoted-pairs removed (`None` for a flag).
    pub fn unquoted(&self) -> Option<String> {
        self.value.as_deref().map(unquote)
    }
}

/// An ordered list of parameters; lookups are ASCII case-insensitive on the name and
/// return the first match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All parameters, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }

    /// The first parameter called `name`.
    pub fn find(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether a parameter called `name` is present (flag or valued).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The raw value of `name`; `None` if absent or a flag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).and_then(|p| p.value.as_deref())
    }

    /// The value of `name` with quotes removed; `None` if absent or a flag.
    pub fn get_unquoted(&self, name: &str) -> Option<String> {
        self.find(name).and_then(Param::unquoted)
    }

    /// Appends a parameter with a raw value (`None` for a flag). The caller vouches that
    /// `value` is a token, a host or a quoted string; use [`Params::push_quoted`] for text.
    pub fn push(&mut self, name: impl Into<String>, value: Option<&str>) {
        self.0.push(Param {
            name: name.into(),
            value: value.map(str::to_string),
        });
    }

    /// Appends `name="content"`, quoting and escaping `content`.
    pub fn push_quoted(&mut self, name: impl Into<String>, content: &str) {
        self.0.push(Param {
            name: name.into(),
            value: Some(quote(content)),
        });
    }

    /// Replaces the value of the first `name` (removing any later ones), or appends it.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        match self
            .0
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                if let Some(p) = self.0.get_mut(i) {
                    p.value = value.map(str::to_string);
                }
                let mut seen = 0usize;
                self.0.retain(|p| {
                    if p.name.eq_ignore_ascii_case(name) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.push(name.to_string(), value),
        }
    }

    /// Removes every parameter called `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.0.len();
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
        before - self.0.len()
    }

    /// Parses `*( SEMI generic-param )` with optional LWS, stopping at the end of the
    /// cursor's text. An empty parameter (`;;`) or a trailing `;` is an error.
    pub(crate) fn parse_header_params(c: &mut Cursor<'_>) -> Result<Params, &'static str> {
        let mut params = Params::new();
        loop {
            c.skip_lws();
            if c.is_empty() {
                return Ok(params);
            }
            if !c.eat(b';') {
                return Err("unexpected character after parameters");
            }
            c.skip_lws();
            let name = c.token().ok_or("empty or malformed parameter name")?;
            let value = if c.eat_sep(b'=') {
                Some(c.gen_value()?.to_string())
            } else {
                None
            };
            params.0.push(Param {
                name: name.to_string(),
                value,
            });
        }
    }

    /// Parses a header parameter list given as text (e.g. `;tag=1;x`).
    pub fn parse(text: &str) -> Result<Params, &'static str> {
        Params::parse_header_params(&mut Cursor::new(text))
    }
}

impl fmt::Display for Params {
    /// `;name=value` for each parameter, no white space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            f.write_str(";")?;
            f.write_str(&p.name)?;
            if let Some(v) = &p.value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lws_and_flags() {
        let p = Params::parse(" ;   tag    = 1918181833n ; lr; q = 0.33").unwrap();
        assert_eq!(p.get("TAG"), Some("1918181833n"));
        assert!(p.contains("lr") && p.get("lr").is_none());
        assert_eq!(p.to_string(), ";tag=1918181833n;lr;q=0.33");
        assert_eq!(Params::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn quoted_values_and_hosts() {
        let p =
            Params::parse(r#";+sip.instance="<urn:uuid:1>";received=[2001:db8::9:255]"#).unwrap();
        assert_eq!(
            p.get_unquoted("+sip.instance").as_deref(),
            Some("<urn:uuid:1>")
        );
        assert_eq!(p.get("received"), Some("[2001:db8::9:255]"));
    }

    #[test]
    fn rejects_empty_params() {
        assert!(Params::parse(";;").is_err());
        assert!(Params::parse(";a;").is_err());
        assert!(Params::parse(";a=").is_err());
        assert!(Params::parse(";a=\"open").is_err());
    }

    #[test]
    fn set_replaces_first_and_drops_duplicates() {
        let mut p = Params::parse(";a=1;b;A=2").unwrap();
        p.set("a", Some("3"));
        assert_eq!(p.to_string(), ";a=3;b");
        p.set("c", None);
        assert_eq!(p.to_string(), ";a=3;b;c");
        assert_eq!(p.remove("B"), 1);
    }
}
