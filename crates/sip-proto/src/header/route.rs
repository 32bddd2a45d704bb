//! Route, Record-Route, Path (RFC 3327) and Service-Route (RFC 3608): lists of name-addrs.

use crate::error::{ParseError, ParseErrorKind};
use crate::header::name_addr::{parse_name_addr, NameAddr};
use crate::headers::Headers;

impl Headers {
    /// Route values, in order.
    pub fn route(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs("Route")
    }

    /// Record-Route values, in order.
    pub fn record_route(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs("Record-Route")
    }

    /// Path values, in order.
    pub fn path(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs("Path")
    }

    /// Service-Route values, in order.
    pub fn service_route(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs("Service-Route")
    }

    fn name_addrs(&self, name: &'static str) -> Result<Vec<NameAddr>, ParseError> {
        self.get_all(name)
            .into_iter()
            .map(|v| parse_name_addr(v).map_err(|d| ParseErrorKind::header(name, d).into()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::headers::Headers;

    #[test]
    fn routes() {
        let mut h = Headers::new();
        h.push(
            "Route",
            "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
        );
        h.push(
            "Path",
            "<sip:p1@edge.example.com;lr>, <sip:p2@edge.example.com;lr>",
        );
        assert!(h.route().unwrap()[0].uri.as_sip().unwrap().lr());
        assert_eq!(h.path().unwrap().len(), 2);
        assert!(h.record_route().unwrap().is_empty());
        h.push("Record-Route", "<sip:a@b>,");
        assert!(h.record_route().is_err());
    }
}
