//! The archive's tables read and written row by row, for `sohoa migrate`.

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::copy::{EMPTY_ARCHIVE, Kind, Table, Tables, Value};
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(r) => ToSqlOutput::Borrowed(ValueRef::Real(*r)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

pub(super) fn read_value(row: &rusqlite::Row, i: usize, kind: Kind) -> rusqlite::Result<Value> {
    Ok(match kind {
        Kind::Int | Kind::Bool => row
            .get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int),
        Kind::Real => row
            .get::<_, Option<f64>>(i)?
            .map_or(Value::Null, Value::Real),
        Kind::Text => row
            .get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
        Kind::Blob => row
            .get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob),
    })
}

impl Tables for SqliteStore {
    fn is_empty_archive(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(EMPTY_ARCHIVE, [], |r| r.get(0))?)
    }

    fn begin_copy(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn read_rows(
        &self,
        table: &Table,
        visit: &mut dyn FnMut(Vec<Value>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            table.column_list(),
            table.name,
            table.columns[0].0
        ))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let values = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| read_value(row, i, *kind))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            visit(values)?;
        }
        Ok(())
    }

    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        let placeholders = (1..=table.columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut insert = self.conn.prepare_cached(&format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            table.column_list()
        ))?;
        for row in rows {
            insert.execute(rusqlite::params_from_iter(row.iter()))?;
        }
        Ok(())
    }

    fn finish_copy(&mut self) -> Result<(), StoreError> {
        // SQLite's INTEGER PRIMARY KEY continues after the largest id by itself.
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }
}

impl crate::store::reports::ReportSql for SqliteStore {
    fn dialect(&self) -> crate::store::reports::Dialect {
        crate::store::reports::Dialect::Sqlite
    }

    fn report_rows(
        &self,
        statement: &str,
        parameters: &[Value],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        let mut statement = self.conn.prepare_cached(statement)?;
        let mut rows = statement.query(rusqlite::params_from_iter(parameters))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| read_value(row, i, *kind))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(out)
    }

    fn report_execute(&mut self, statement: &str, parameters: &[Value]) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(statement)?
            .execute(rusqlite::params_from_iter(parameters))? as u64)
    }
}
