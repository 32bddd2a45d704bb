//! Output helpers shared by the admin verbs: greppable tables, key/value views, JSON, secrets
//! read from standard input.

use std::io::{BufRead, IsTerminal, Write};

use comfy_table::{presets, ContentArrangement, Table, TableComponent};
use serde::Serialize;
use serde_json::Value;

use super::client::CliError;

/// A borderless table: a header, a line of `-` under each column, then the rows; columns
/// separated by two spaces, no trailing blanks, no wrapping (one record per line, for grep).
pub fn table<R>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = String>,
{
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_style(TableComponent::HeaderLines, '-')
        .set_style(TableComponent::MiddleHeaderIntersections, ' ')
        .remove_style(TableComponent::LeftBorder)
        .remove_style(TableComponent::RightBorder)
        .remove_style(TableComponent::LeftHeaderIntersection)
        .remove_style(TableComponent::RightHeaderIntersection)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row.into_iter().collect::<Vec<String>>());
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        // Nothing before the first column; one space of padding plus the (blank) vertical
        // line between columns; nothing after the last.
        column.set_padding((0, if i + 1 == header.len() { 0 } else { 1 }));
    }
    table
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.trim_end();
            if i == 1 {
                // The header line runs under the padding too: end each run at its column.
                line.replace("- ", "  ")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key  value` lines with the values aligned; a key may repeat (one line per list item).
pub fn detail(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The wire name of a unit enum (`non_secure`, `ldap`, …).
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// `true`/`false`, as the flags take them.
pub fn yes_no(b: bool) -> String {
    b.to_string()
}

/// Pretty JSON to stdout.
pub fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    print_text(&text);
}

/// `text` to stdout, ending with exactly one newline (nothing for an empty text).
pub fn print_text(text: &str) {
    let text = text.trim_end_matches('\n');
    if text.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(out, "{text}");
}

/// Reads a secret from the first line of standard input (prompting when it is a terminal),
/// so that it never appears in the process list.
pub fn read_secret(what: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what}: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Local(format!("cannot read the {what} from standard input: {e}")))?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    if secret.is_empty() {
        return Err(CliError::Local(format!(
            "no {what} on standard input (the first line is read)"
        )));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_borderless_and_aligned() {
        let text = table(
            &["userid", "enabled"],
            vec![
                vec!["alice".to_string(), "true".to_string()],
                vec!["bartholomew".to_string(), "false".to_string()],
            ],
        );
        assert_eq!(
            text,
            "userid       enabled\n\
             -----------  -------\n\
             alice        true\n\
             bartholomew  false"
        );
    }

    #[test]
    fn empty_table_keeps_its_header() {
        let text = table(&["dn", "description"], Vec::<Vec<String>>::new());
        assert_eq!(text, "dn  description\n--  -----------");
    }

    #[test]
    fn detail_aligns_values() {
        let text = detail(&[
            ("name", "ucm1".into()),
            ("priority", "1".into()),
            ("description", String::new()),
        ]);
        assert_eq!(text, "name         ucm1\npriority     1\ndescription");
    }

    #[test]
    fn wire_names() {
        use switchboard_store::model::{SecurityMode, UserSource};
        assert_eq!(wire_name(&SecurityMode::NonSecure), "non_secure");
        assert_eq!(wire_name(&UserSource::Ldap), "ldap");
    }
}
