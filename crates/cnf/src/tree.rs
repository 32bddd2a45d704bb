//! Reads a config file back into a tree of [`Element`]s, for tests and for tools that inspect
//! config files. It checks well-formedness (matching tags, valid references) but not
//! namespaces, so it reads CUCM's own files, whose `xsi:` prefix is never declared.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::error::CnfError;

/// One element: its name, attributes in document order, text (trimmed) and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

fn unreadable(message: impl std::fmt::Display) -> CnfError {
    CnfError::Unreadable(message.to_string())
}

impl Element {
    /// The root element of `xml`.
    pub fn parse(xml: &str) -> Result<Element, CnfError> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut open: Vec<Element> = Vec::new();
        let mut root = None;
        loop {
            let event = reader.read_event().map_err(unreadable)?;
            match event {
                Event::Start(start) => open.push(element(&start)?),
                Event::Empty(start) => {
                    let done = element(&start)?;
                    attach(&mut open, &mut root, done)?;
                }
                Event::End(_) => {
                    let mut done = open.pop().ok_or_else(|| unreadable("unmatched end tag"))?;
                    done.text = done.text.trim().to_string();
                    attach(&mut open, &mut root, done)?;
                }
                Event::Text(text) => {
                    let content = text.xml10_content();
                    match open.last_mut() {
                        Some(current) => current.text.push_str(&content),
                        None if content.trim().is_empty() => {}
                        None => return Err(unreadable("text outside the root element")),
                    }
                }
                Event::CData(data) => {
                    let current = open.last_mut().ok_or_else(|| unreadable("CDATA outside"))?;
                    current.text.push_str(&data.into_inner());
                }
                Event::GeneralRef(reference) => {
                    let current = open
                        .last_mut()
                        .ok_or_else(|| unreadable("a reference outside the root element"))?;
                    if reference.is_char_ref() {
                        let c = reference.resolve_char_ref().map_err(unreadable)?;
                        current
                            .text
                            .push(c.ok_or_else(|| unreadable("bad character reference"))?);
                    } else {
                        let name: &str = &reference;
                        let value = resolve_predefined_entity(name)
                            .ok_or_else(|| unreadable(format!("unknown entity &{name};")))?;
                        current.text.push_str(value);
                    }
                }
                Event::Eof => break,
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
        if !open.is_empty() {
            return Err(unreadable("unclosed elements at the end"));
        }
        root.ok_or_else(|| unreadable("no root element"))
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every element at `path` below this one (`"devicePool/callManagerGroup/members/member"`).
    pub fn all(&self, path: &str) -> Vec<&Element> {
        let mut found = vec![self];
        for step in path.split('/').filter(|s| !s.is_empty()) {
            found = found
                .into_iter()
                .flat_map(|e| e.children.iter().filter(move |c| c.name == step))
                .collect();
        }
        found
    }

    /// The text of the first element at `path`.
    pub fn text_at(&self, path: &str) -> Option<&str> {
        self.all(path).first().map(|e| e.text.as_str())
    }

    /// Every element path of the tree (`/device`, `/device/fullConfig`, …) in document order,
    /// each once.
    pub fn paths(&self) -> Vec<String> {
        fn walk(e: &Element, prefix: &str, out: &mut Vec<String>) {
            let path = format!("{prefix}/{}", e.name);
            if !out.contains(&path) {
                out.push(path.clone());
            }
            for c in &e.children {
                walk(c, &path, out);
            }
        }
        let mut out = Vec::new();
        walk(self, "", &mut out);
        out
    }
}

fn element(start: &BytesStart) -> Result<Element, CnfError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(unreadable)?;
        let name = attribute.key.as_ref().to_string();
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(unreadable)?
            .into_owned();
        attributes.push((name, value));
    }
    Ok(Element {
        name: start.name().as_ref().to_string(),
        attributes,
        ..Element::default()
    })
}

fn attach(open: &mut [Element], root: &mut Option<Element>, done: Element) -> Result<(), CnfError> {
    match open.last_mut() {
        Some(parent) => parent.children.push(done),
        None if root.is_none() => *root = Some(done),
        None => return Err(unreadable("more than one root element")),
    }
    Ok(())
}
