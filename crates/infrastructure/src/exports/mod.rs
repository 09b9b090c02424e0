//! The export formats: CSV (RFC 4180, with cells a spreadsheet would run as a formula
//! neutralised) and NDJSON.

use forge_application::{
    UnexpectedError,
    exports::{Cell, ExportFormat, ports::ExportEncoder},
};
use serde_json::Value;

/// [`ExportEncoder`] for CSV (the `csv` crate) and NDJSON (`serde_json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FileEncoder;

impl ExportEncoder for FileEncoder {
    fn encode(
        &self,
        format: ExportFormat,
        columns: &[&'static str],
        rows: &[Vec<Cell>],
        header: bool,
    ) -> Result<Vec<u8>, UnexpectedError> {
        match format {
            ExportFormat::Csv => csv_bytes(columns, rows, header),
            ExportFormat::Ndjson => {
                let mut out = Vec::with_capacity(rows.len() * 256);
                for row in rows {
                    ndjson_line(&mut out, columns, row).map_err(UnexpectedError::internal)?;
                }
                Ok(out)
            }
        }
    }
}

/// A row as one JSON object and a line feed, its members in the order of the columns (as in the
/// CSV header; a `serde_json::Map` would sort them by name).
fn ndjson_line(out: &mut Vec<u8>, columns: &[&'static str], row: &[Cell]) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (name, cell)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name)?;
        out.push(b':');
        serde_json::to_writer(&mut *out, &json(cell))?;
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

fn csv_bytes(columns: &[&'static str], rows: &[Vec<Cell>], header: bool) -> Result<Vec<u8>, UnexpectedError> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if header {
        writer.write_record(columns).map_err(UnexpectedError::internal)?;
    }
    for row in rows {
        writer.write_record(row.iter().map(csv_text)).map_err(UnexpectedError::internal)?;
    }
    writer.into_inner().map_err(|e| UnexpectedError::internal(e.to_string()))
}

/// A cell as CSV text. Text that a spreadsheet would read as a formula (starting with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP advises: a text, or an
/// instant before year 0 or after 9999 (written with its sign, `-0001-…`, `+10000-…`). Numbers
/// and flags are written as they are, lists and named values as their JSON text.
fn csv_text(cell: &Cell) -> String {
    match json(cell) {
        Value::Null => String::new(),
        Value::String(text) if text.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{text}"),
        Value::String(text) => text,
        value => value.to_string(),
    }
}

fn json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Int(i) => Value::from(*i),
        Cell::Text(t) => Value::String(t.clone()),
        Cell::Time(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        Cell::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        Cell::Fields(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(format: ExportFormat, rows: &[Vec<Cell>], header: bool) -> String {
        String::from_utf8(FileEncoder.encode(format, &["a", "b"], rows, header).unwrap()).unwrap()
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_neutralises_formulas() {
        let rows = vec![
            vec![Cell::Text("x,y".into()), Cell::Text("say \"hi\"".into())],
            vec![Cell::Text("=HYPERLINK(\"http://evil\")".into()), Cell::Text("-2+3".into())],
            vec![Cell::Null, Cell::Bool(true)],
            vec![Cell::Text("line\nbreak".into()), Cell::Int(-5)],
        ];
        let out = encode(ExportFormat::Csv, &rows, true);
        assert_eq!(
            out,
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n\"'=HYPERLINK(\"\"http://evil\"\")\",'-2+3\r\n,true\r\n\"line\nbreak\",-5\r\n"
        );
    }

    #[test]
    fn csv_without_header_is_the_rows_alone() {
        assert_eq!(encode(ExportFormat::Csv, &[vec![Cell::Int(1), Cell::Int(2)]], false), "1,2\r\n");
        assert_eq!(encode(ExportFormat::Csv, &[], true), "a,b\r\n");
    }

    #[test]
    fn ndjson_is_one_object_per_line_with_nested_fields() {
        let rows = vec![
            vec![Cell::Text("=1".into()), Cell::Fields(vec![("n".into(), Cell::Int(1))])],
            vec![Cell::Null, Cell::List(vec!["read".into()])],
        ];
        let out = encode(ExportFormat::Ndjson, &rows, true);
        assert_eq!(out, "{\"a\":\"=1\",\"b\":{\"n\":1}}\n{\"a\":null,\"b\":[\"read\"]}\n");
        assert_eq!(encode(ExportFormat::Ndjson, &[], true), "");
    }

    #[test]
    fn ndjson_members_come_in_the_order_of_the_columns() {
        let rows = vec![vec![Cell::Text("1".into()), Cell::Text("ada@example.com".into()), Cell::Bool(true)]];
        let out = FileEncoder.encode(ExportFormat::Ndjson, &["id", "email", "active"], &rows, true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"id\":\"1\",\"email\":\"ada@example.com\",\"active\":true}\n");
    }

    #[test]
    fn csv_neutralises_instants_written_with_a_sign() {
        let before_year_0 = chrono::DateTime::from_timestamp_micros(-62_167_219_200_000_001).unwrap();
        let after_9999 = chrono::DateTime::from_timestamp(253_402_300_800, 0).unwrap();
        let in_range = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let rows =
            vec![vec![Cell::Time(before_year_0), Cell::Time(after_9999)], vec![Cell::Time(in_range), Cell::Null]];
        assert_eq!(
            encode(ExportFormat::Csv, &rows, false),
            "'-0001-12-31T23:59:59.999999Z,'+10000-01-01T00:00:00.000000Z\r\n2026-01-01T00:00:00.000000Z,\r\n"
        );
        // JSON has no formulas: the same instants unchanged.
        assert_eq!(
            encode(ExportFormat::Ndjson, &rows[..1], false),
            "{\"a\":\"-0001-12-31T23:59:59.999999Z\",\"b\":\"+10000-01-01T00:00:00.000000Z\"}\n"
        );
    }
}
