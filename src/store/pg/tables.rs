//! The archive's tables read and written row by row, for `sohoa migrate`.

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::copy::{EMPTY_ARCHIVE, Kind, Table, Tables, Value};
use postgres::types::ToSql;

/// Rows read per query (the connection is released between batches).
const READ_BATCH: i64 = 1_000;

fn read_value(row: &postgres::Row, i: usize, kind: Kind) -> Value {
    match kind {
        Kind::Int => row.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int),
        Kind::Bool => row
            .get::<_, Option<bool>>(i)
            .map_or(Value::Null, |b| Value::Int(i64::from(b))),
        Kind::Real => row
            .get::<_, Option<f64>>(i)
            .map_or(Value::Null, Value::Real),
        Kind::Text => row
            .get::<_, Option<String>>(i)
            .map_or(Value::Null, Value::Text),
        Kind::Blob => row
            .get::<_, Option<Vec<u8>>>(i)
            .map_or(Value::Null, Value::Blob),
    }
}

fn row_values(row: &postgres::Row, table: &Table) -> Vec<Value> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| read_value(row, i, *kind))
        .collect()
}

/// A value as the column's PostgreSQL type takes it.
fn parameter(value: &Value, kind: Kind) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let wrong = || StoreError::Corrupt(format!("a {kind:?} column holds {value:?}"));
    Ok(match (kind, value) {
        (Kind::Int, Value::Int(i)) => Box::new(Some(*i)),
        (Kind::Int, Value::Null) => Box::new(None::<i64>),
        (Kind::Bool, Value::Int(i)) => Box::new(Some(*i != 0)),
        (Kind::Bool, Value::Null) => Box::new(None::<bool>),
        (Kind::Real, Value::Real(r)) => Box::new(Some(*r)),
        (Kind::Real, Value::Int(i)) => Box::new(Some(*i as f64)),
        (Kind::Real, Value::Null) => Box::new(None::<f64>),
        (Kind::Text, Value::Text(t)) => Box::new(Some(t.clone())),
        (Kind::Text, Value::Null) => Box::new(None::<String>),
        (Kind::Blob, Value::Blob(b)) => Box::new(Some(b.clone())),
        (Kind::Blob, Value::Null) => Box::new(None::<Vec<u8>>),
        _ => return Err(wrong()),
    })
}

impl Tables for PostgresStore {
    fn is_empty_archive(&self) -> Result<bool, StoreError> {
        Ok(self
            .client
            .borrow_mut()
            .query_one(EMPTY_ARCHIVE, &[])?
            .get(0))
    }

    fn begin_copy(&mut self) -> Result<(), StoreError> {
        self.client.get_mut().batch_execute("BEGIN")?;
        Ok(())
    }

    fn read_rows(
        &self,
        table: &Table,
        visit: &mut dyn FnMut(Vec<Value>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (key, kind) = table.columns[0];
        let ordered = |column: &str, kind: Kind| match kind {
            Kind::Text => format!("{column} COLLATE \"C\""),
            _ => column.to_owned(),
        };
        if !table.unique_first_column() {
            // Small tables keyed by two columns: read whole, in a total order.
            let order = table
                .columns
                .iter()
                .map(|(c, k)| ordered(c, *k))
                .collect::<Vec<_>>()
                .join(", ");
            let rows = self.client.borrow_mut().query(
                &format!(
                    "SELECT {} FROM {} ORDER BY {order}",
                    table.column_list(),
                    table.name
                ),
                &[],
            )?;
            for row in &rows {
                visit(row_values(row, table))?;
            }
            return Ok(());
        }
        // Keyset pages on the key: each page is one index range, whatever the size.
        let mut after: Option<Value> = None;
        loop {
            let condition = match &after {
                None => String::new(),
                Some(_) => format!("WHERE {} > $2", ordered(key, kind)),
            };
            let sql = format!(
                "SELECT {} FROM {} {condition} ORDER BY {} LIMIT $1",
                table.column_list(),
                table.name,
                ordered(key, kind)
            );
            let mut client = self.client.borrow_mut();
            let rows = match &after {
                None => client.query(&sql, &[&READ_BATCH])?,
                Some(last) => {
                    let last = parameter(last, kind)?;
                    client.query(&sql, &[&READ_BATCH, last.as_ref()])?
                }
            };
            drop(client);
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some(read_value(last, 0, kind));
            for row in &rows {
                visit(row_values(row, table))?;
            }
        }
    }

    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let placeholders = (1..=table.columns.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let client = self.client.get_mut();
        let insert = client.prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            table.column_list()
        ))?;
        for row in rows {
            let params = row
                .iter()
                .zip(table.columns)
                .map(|(value, (_, kind))| parameter(value, *kind))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            client.execute(&insert, &refs)?;
        }
        Ok(())
    }

    fn finish_copy(&mut self) -> Result<(), StoreError> {
        let client = self.client.get_mut();
        for table in crate::store::copy::TABLES.iter().filter(|t| t.generated_id) {
            client.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'),
                                   COALESCE((SELECT max(id) FROM {0}), 0) + 1, false)",
                    table.name
                ),
                &[],
            )?;
        }
        client.batch_execute("COMMIT")?;
        Ok(())
    }
}

/// A report's parameter: integers and text (NULL: text, the only kind passed empty).
fn report_parameter(value: &Value) -> Box<dyn ToSql + Sync> {
    match value {
        Value::Int(i) => Box::new(*i),
        Value::Real(r) => Box::new(*r),
        Value::Text(t) => Box::new(t.clone()),
        Value::Blob(b) => Box::new(b.clone()),
        Value::Null => Box::new(None::<String>),
    }
}

impl crate::store::reports::ReportSql for PostgresStore {
    fn dialect(&self) -> crate::store::reports::Dialect {
        crate::store::reports::Dialect::Postgres
    }

    fn report_rows(
        &self,
        statement: &str,
        parameters: &[Value],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        let statement = statement.replace('?', "$");
        let owned: Vec<_> = parameters.iter().map(report_parameter).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|p| p.as_ref()).collect();
        let rows = self.client.borrow_mut().query(&statement, &refs)?;
        Ok(rows
            .iter()
            .map(|row| {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| read_value(row, i, *kind))
                    .collect()
            })
            .collect())
    }

    fn report_execute(&mut self, statement: &str, parameters: &[Value]) -> Result<u64, StoreError> {
        let statement = statement.replace('?', "$");
        let owned: Vec<_> = parameters.iter().map(report_parameter).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|p| p.as_ref()).collect();
        Ok(self.client.get_mut().execute(&statement, &refs)?)
    }
}
