//! Fuzzes the read-only SQL guard of `switchboard sql` against its documented rule: any text,
//! either dialect, never panics; and whatever it admits is, by an independent look at the
//! parsed syntax tree, exactly one query statement with no `INTO`, no locking clause (`FOR
//! UPDATE/SHARE`) and no data-modifying statement (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, …)
//! anywhere in it: not at the top, not in a CTE, not in a subquery.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sqlparser::ast::Statement;
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// The syntax tree's `Debug` text with the contents of every string (literals and identifiers,
/// which the input chooses) removed, so that what is left names only the tree's node types.
fn shape(statement: &Statement) -> String {
    let debug = format!("{statement:?}");
    let mut out = String::with_capacity(debug.len());
    let mut chars = debug.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"\"");
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal: 'x', '\n', '\u{..}', '\''.
                out.push_str("''");
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '\'' => break,
                        _ => {}
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Node types that write, lock or create: none may appear in an admitted query.
const FORBIDDEN: &[&str] = &[
    "SelectInto",
    "LockClause",
    "Insert(",
    "Update {",
    "Delete(",
    "Merge {",
    "CreateTable",
    "Drop {",
    "Truncate {",
    "Copy {",
    "Pragma {",
    "Execute {",
    "Call(",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let postgres = text.len() % 2 == 0;
    let verdict = switchboard_store::check_read_only(text, postgres);
    assert_eq!(
        verdict.is_ok(),
        switchboard_store::check_read_only(text, postgres).is_ok(),
        "deterministic"
    );
    if verdict.is_err() {
        return;
    }
    let parsed = if postgres {
        Parser::parse_sql(&PostgreSqlDialect {}, text)
    } else {
        Parser::parse_sql(&SQLiteDialect {}, text)
    }
    .expect("admitted text parses");
    let [statement] = parsed.as_slice() else {
        panic!("admitted {} statements", parsed.len());
    };
    assert!(
        matches!(statement, Statement::Query(_)),
        "admitted a statement that is not a query"
    );
    let shape = shape(statement);
    for node in FORBIDDEN {
        assert!(
            !shape.contains(node),
            "admitted a query containing {node}: {text:?}\n{shape}"
        );
    }
});
