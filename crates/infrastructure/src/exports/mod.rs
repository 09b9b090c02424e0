//! The export formats: CSV (RFC 4180, with cells a spreadsheet would run as a formula
//! neutralised) and NDJSON.

use forge_application::{
    UnexpectedError,
    exports::{Cell, ExportFormat, ports::ExportEncoder},
};
use serde_json::{Map, Value};

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
                    let object: Map<String, Value> =
                        columns.iter().zip(row).map(|(name, cell)| ((*name).to_owned(), json(cell))).collect();
                    serde_json::to_writer(&mut out, &object).map_err(UnexpectedError::internal)?;
                    out.push(b'\n');
                }
                Ok(out)
            }
        }
    }
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
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP advises.
fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) if text.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{text}"),
        Cell::Text(text) => text.clone(),
        Cell::List(_) | Cell::Fields(_) => json(cell).to_string(),
        other => match json(other) {
            Value::Null => String::new(),
            Value::String(s) => s,
            value => value.to_string(),
        },
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
}
