//! `switchboard sql "<select …>"`: a read-only query, printed like the seed's `run sql`.

use serde::Serialize;
use serde_json::Value;
use switchboard_store::model::SqlResult;

use super::client::{CliError, Client};

#[derive(Serialize)]
struct SqlBody<'a> {
    query: &'a str,
}

pub async fn run(client: &Client, query: String) -> Result<(), CliError> {
    let answer = client.post(&["sql"], &SqlBody { query: &query }).await?;
    client.print(answer, |result: SqlResult| format_sql(&result))
}

/// A cell as `run sql` shows it: strings raw, NULL for null, other values as JSON.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The column names, a line of `=` under each, then the rows; columns padded to their widest
/// cell and separated by two spaces; a last line when the answer was truncated.
pub fn format_sql(result: &SqlResult) -> String {
    let rows: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| row.iter().map(cell_text).collect())
        .collect();
    let columns = result
        .columns
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    for (i, name) in result.columns.iter().enumerate() {
        widths[i] = name.chars().count();
    }
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![
        line(&result.columns),
        widths
            .iter()
            .map(|w| "=".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    ];
    out.extend(rows.iter().map(|row| line(row)));
    if result.truncated {
        out.push(format!(
            "(truncated: only the first {} rows are shown; narrow the query or add a limit)",
            rows.len()
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seeds_query() {
        let result = SqlResult {
            columns: vec!["paramvalue".into()],
            rows: vec![vec![json!("1")]],
            truncated: false,
        };
        assert_eq!(format_sql(&result), "paramvalue\n==========\n1");
    }

    #[test]
    fn null_numbers_and_alignment() {
        let result = SqlResult {
            columns: vec!["pkid".into(), "hostnameorip".into(), "description".into()],
            rows: vec![
                vec![json!("d5fd15d5"), json!("exp-c"), Value::Null],
                vec![json!(42), json!(true), json!("x")],
            ],
            truncated: false,
        };
        assert_eq!(
            format_sql(&result),
            "pkid      hostnameorip  description\n\
             ========  ============  ===========\n\
             d5fd15d5  exp-c         NULL\n\
             42        true          x"
        );
    }

    #[test]
    fn truncated_is_said() {
        let result = SqlResult {
            columns: vec!["n".into()],
            rows: vec![vec![json!(1)], vec![json!(2)]],
            truncated: true,
        };
        let text = format_sql(&result);
        assert_eq!(
            text.lines().last().unwrap(),
            "(truncated: only the first 2 rows are shown; narrow the query or add a limit)"
        );
        assert!(text.starts_with("n\n=\n1\n2\n"));
    }

    #[test]
    fn no_rows_keeps_the_header() {
        let result = SqlResult {
            columns: vec!["name".into()],
            rows: vec![],
            truncated: false,
        };
        assert_eq!(format_sql(&result), "name\n====");
    }

    #[test]
    fn parses_the_seeds_command() {
        let q = "select paramvalue from processconfig where paramname = 'ClusterSIPOAuthMode'";
        match parse(&["sql", q]).unwrap().command {
            AdminCommand::Sql { query } => assert_eq!(query, q),
            other => panic!("{other:?}"),
        }
    }
}
