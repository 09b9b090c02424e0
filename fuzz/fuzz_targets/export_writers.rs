//! The export writers: `FileEncoder::encode` in CSV and NDJSON, given rows of any cells, written
//! in chunks as the export job writes them (the header only in the first chunk; no rows: one
//! call with the header alone), the chunks concatenated into the file. Each file is parsed back
//! (CSV with the `csv` crate's reader, NDJSON with serde_json into members kept in order) and
//! compared with the cells through a reference written here: its own JSON values and its own
//! formatting of instants, not the writer's.
//!
//! The input: a byte `n` for the columns (the first `1 + n % 6` of six fixed names, not in name
//! order), then cells, row after row, each a tag byte (`tag % 8`, so `'0'` to `'7'` in the seeds)
//! and its data: 0 null, 1 a flag (next byte), 2 a number (8 bytes, little-endian), 3 text (the
//! bytes up to a 0xFF, made UTF-8 lossily: quotes, commas, CR, LF, control and formula characters
//! come through), 4 an instant (8 bytes of microseconds since 1970, any year chrono can hold),
//! 5 a list of texts and 6 named values (a count byte, then texts, or a name and a cell; nested up
//! to three deep, names unique as the audit snapshots' are), 7 the start of a new chunk at the
//! next row (at most three). At most 64 rows; an unfinished last row is dropped.
//!
//! Checked, besides `encode` never failing nor panicking:
//! - CSV, read with the `csv` crate's reader: exactly the header then the rows, every record with
//!   one field per column and ending with CRLF. A text reads back as itself, or with a leading `'`
//!   when it starts with `=`, `+`, `-`, `@`, a tab or a carriage return; null reads back empty, a
//!   number and a flag as their text, an instant as below (after a `'` when written with a sign),
//!   a list and named values as their JSON text. No field starts with one of those formula
//!   characters unless it is a number.
//! - NDJSON: one line per row, each a JSON object (read by serde_json) whose keys are exactly the
//!   columns, in their order, with the cells as values: texts unchanged (no `'` in JSON), an
//!   instant as RFC 3339 in UTC with microseconds and `Z` (years 0 to 9999; other years, which
//!   RFC 3339 cannot write, in ISO 8601's expanded form, `+10000-…` or `-0001-…`), lists as
//!   arrays, named values as objects.

#![no_main]

use chrono::{DateTime, Datelike, Timelike, Utc};
use forge_application::exports::{Cell, ExportFormat, ports::ExportEncoder};
use forge_infrastructure::exports::FileEncoder;
use libfuzzer_sys::fuzz_target;
use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, Visitor},
};
use serde_json::{Map, Value};

/// The column names, deliberately not in name order.
const COLUMNS: [&str; 6] = ["id", "email", "name", "active", "created_at", "after"];
/// What a spreadsheet may run as a formula when a cell starts with it.
const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const MAX_ROWS: usize = 64;
const MAX_CHUNKS: usize = 3;
const MAX_DEPTH: usize = 3;

/// The fuzzer's bytes, read front to back.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    /// 8 bytes, little-endian; missing bytes are zero.
    fn i64(&mut self) -> i64 {
        let mut bytes = [0; 8];
        for byte in &mut bytes {
            *byte = self.byte().unwrap_or(0);
        }
        i64::from_le_bytes(bytes)
    }

    /// The bytes up to the next 0xFF (dropped) or the end, as UTF-8.
    fn text(&mut self) -> String {
        let end = self.0.iter().position(|&b| b == 0xFF).unwrap_or(self.0.len());
        let text = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0 = self.0.get(end + 1..).unwrap_or_default();
        text
    }

    fn time(&mut self) -> DateTime<Utc> {
        let micros = self.i64();
        // A quarter of i64's microseconds is within chrono's range (about 73,000 years each way).
        DateTime::from_timestamp_micros(micros)
            .or_else(|| DateTime::from_timestamp_micros(micros / 4))
            .expect("a quarter of i64 microseconds is representable")
    }

    fn cell(&mut self, tag: u8, depth: usize) -> Cell {
        match tag % 8 {
            1 => Cell::Bool(self.byte().unwrap_or(0) & 1 == 1),
            2 => Cell::Int(self.i64()),
            3 => Cell::Text(self.text()),
            4 => Cell::Time(self.time()),
            5 if depth < MAX_DEPTH => {
                let count = self.byte().unwrap_or(0) % 5;
                Cell::List((0..count).map(|_| self.text()).collect())
            }
            6 if depth < MAX_DEPTH => {
                let count = self.byte().unwrap_or(0) % 5;
                let mut fields: Vec<(String, Cell)> = Vec::new();
                for _ in 0..count {
                    let name = self.text();
                    let tag = self.byte().unwrap_or(0);
                    let value = self.cell(tag, depth + 1);
                    if !fields.iter().any(|(n, _)| *n == name) {
                        fields.push((name, value));
                    }
                }
                Cell::Fields(fields)
            }
            _ => Cell::Null,
        }
    }
}

/// The columns, and the rows in chunks (each chunk with at least one row; none when no row).
fn decode(data: &[u8]) -> (&'static [&'static str], Vec<Vec<Vec<Cell>>>) {
    let mut input = Input(data);
    let columns = &COLUMNS[..=usize::from(input.byte().unwrap_or(0)) % COLUMNS.len()];
    let mut chunks: Vec<Vec<Vec<Cell>>> = Vec::new();
    let mut row = Vec::new();
    let mut split = false;
    let mut rows = 0;
    while rows < MAX_ROWS {
        let Some(tag) = input.byte() else { break };
        if tag % 8 == 7 {
            split = true;
            continue;
        }
        row.push(input.cell(tag, 0));
        if row.len() == columns.len() {
            if chunks.is_empty() || (split && chunks.len() < MAX_CHUNKS) {
                chunks.push(Vec::new());
            }
            split = false;
            chunks.last_mut().expect("a chunk").push(std::mem::take(&mut row));
            rows += 1;
        }
    }
    (columns, chunks)
}

/// The file, as the export job writes it: `encode` per chunk, the header with the first; with
/// no rows, one call with the header alone.
fn file(format: ExportFormat, columns: &[&'static str], chunks: &[Vec<Vec<Cell>>]) -> Vec<u8> {
    let encode = |rows: &[Vec<Cell>], header: bool| match FileEncoder.encode(format, columns, rows, header) {
        Ok(bytes) => bytes,
        Err(error) => panic!("{format:?}: encode failed: {error:?} on {rows:?}"),
    };
    if chunks.is_empty() {
        return encode(&[], true);
    }
    chunks.iter().enumerate().flat_map(|(i, rows)| encode(rows, i == 0)).collect()
}

/// An instant in RFC 3339, UTC, microseconds, `Z`, formatted here field by field; years RFC 3339
/// cannot write get ISO 8601's expanded form (a sign and at least four digits).
fn instant(time: &DateTime<Utc>) -> String {
    let year = time.year();
    let year = if (0..=9999).contains(&year) { format!("{year:04}") } else { format!("{year:+05}") };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.nanosecond() / 1_000
    )
}

/// The JSON value a cell must read back as.
fn json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Int(i) => Value::from(*i),
        Cell::Text(text) => Value::String(text.clone()),
        Cell::Time(time) => Value::String(instant(time)),
        Cell::List(items) => Value::Array(items.iter().map(|s| Value::String(s.clone())).collect()),
        Cell::Fields(fields) => {
            let mut object = Map::new();
            for (name, value) in fields {
                assert!(object.insert(name.clone(), json(value)).is_none(), "the generator repeated {name:?}");
            }
            Value::Object(object)
        }
    }
}

/// Checks one CSV field against its cell.
fn check_csv_field(field: &str, cell: &Cell, what: &str) {
    if field.starts_with(FORMULA) {
        assert!(
            matches!(cell, Cell::Int(_)) && field.parse::<i64>().is_ok(),
            "{what}: {field:?} starts with a formula character and is not a number ({cell:?})"
        );
    }
    let neutralised = |text: String| if text.starts_with(FORMULA) { format!("'{text}") } else { text };
    match cell {
        Cell::Null => assert_eq!(field, "", "{what}: null"),
        Cell::Bool(b) => assert_eq!(field, b.to_string(), "{what}: a flag"),
        Cell::Int(i) => assert_eq!(field, i.to_string(), "{what}: a number"),
        Cell::Text(text) => assert_eq!(field, neutralised(text.clone()), "{what}: a text"),
        Cell::Time(time) => {
            assert_eq!(field, neutralised(instant(time)), "{what}: an instant");
            check_rfc3339(field, time, what);
        }
        Cell::List(_) | Cell::Fields(_) => {
            assert!(field.starts_with(['[', '{']), "{what}: {field:?} is not JSON text");
            let value: Value = match serde_json::from_str(field) {
                Ok(value) => value,
                Err(error) => panic!("{what}: {field:?} is not JSON: {error}"),
            };
            assert_eq!(value, json(cell), "{what}: the JSON text of {cell:?}");
        }
    }
}

/// For years RFC 3339 can write: the text is one that chrono's RFC 3339 parser reads back to the
/// same instant.
fn check_rfc3339(text: &str, time: &DateTime<Utc>, what: &str) {
    if (0..=9999).contains(&time.year()) {
        let read =
            DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{what}: {text:?} is not RFC 3339: {e}"));
        assert_eq!(read, *time, "{what}: {text:?} is another instant");
    }
}

fn check_csv(columns: &[&str], rows: &[&Vec<Cell>], bytes: &[u8]) {
    assert!(std::str::from_utf8(bytes).is_ok(), "CSV: not UTF-8");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(false).from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut read = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => panic!("CSV: record {read} unreadable: {error} in {:?}", String::from_utf8_lossy(bytes)),
        }
        // The reader stops after a record's CR; its LF is read with the next record.
        let end = usize::try_from(reader.position().byte()).expect("a position in memory");
        assert_eq!(bytes.get(end.wrapping_sub(1)..=end), Some(&b"\r\n"[..]), "CSV: record {read} does not end in CRLF");
        assert_eq!(record.len(), columns.len(), "CSV: record {read} has {} fields", record.len());
        if read == 0 {
            let header: Vec<&str> = record.iter().collect();
            assert_eq!(header, columns, "CSV: the header");
        } else {
            let row = rows.get(read - 1).unwrap_or_else(|| panic!("CSV: {read} records for {} rows", rows.len()));
            for (column, (field, cell)) in record.iter().zip(row.iter()).enumerate() {
                check_csv_field(field, cell, &format!("CSV: row {}, column {column}", read - 1));
            }
        }
        read += 1;
    }
    assert_eq!(read, rows.len() + 1, "CSV: {read} records for the header and {} rows", rows.len());
    assert_eq!(reader.position().byte(), bytes.len() as u64, "CSV: bytes after the last record");
}

/// A JSON object with its members in order, repeated keys kept.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

fn check_ndjson(columns: &[&str], rows: &[&Vec<Cell>], bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("NDJSON: not UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "NDJSON: the last line is not ended");
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), rows.len(), "NDJSON: {} lines for {} rows", lines.len(), rows.len());
    for (i, (line, row)) in lines.iter().zip(rows).enumerate() {
        let Ordered(members) = match serde_json::from_str(line) {
            Ok(members) => members,
            Err(error) => panic!("NDJSON: line {i} is not a JSON object: {error} in {line:?}"),
        };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, columns, "NDJSON: line {i}'s keys");
        for ((name, value), cell) in members.iter().zip(row.iter()) {
            assert_eq!(*value, json(cell), "NDJSON: line {i}, {name}: {cell:?}");
            if let Cell::Time(time) = cell {
                check_rfc3339(value.as_str().expect("an instant is a string"), time, "NDJSON");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (columns, chunks) = decode(data);
    let rows: Vec<&Vec<Cell>> = chunks.iter().flatten().collect();
    check_csv(columns, &rows, &file(ExportFormat::Csv, columns, &chunks));
    check_ndjson(columns, &rows, &file(ExportFormat::Ndjson, columns, &chunks));
});
