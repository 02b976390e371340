//! Small builders that keep the migrations short and alike on both databases.

use sea_orm_migration::prelude::*;

/// A table with a big-integer id and `created_at` / `updated_at` timestamps.
pub fn table(name: &str, columns: Vec<ColumnDef>) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(name)).col(
        ColumnDef::new(Alias::new("id"))
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key(),
    );
    for c in columns {
        t.col(c);
    }
    t.col(timestamp("created_at")).col(timestamp("updated_at"));
    t.to_owned()
}

/// A required text column.
pub fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .text()
        .not_null()
        .to_owned()
}

/// An optional text column.
pub fn text_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().null().to_owned()
}

/// A required short string column.
pub fn string(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(255)
        .not_null()
        .to_owned()
}

/// An optional short string column.
pub fn string_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(255)
        .null()
        .to_owned()
}

/// A required 64-bit integer column.
pub fn big_int(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .to_owned()
}

/// An optional 64-bit integer column.
pub fn big_int_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .null()
        .to_owned()
}

/// An optional 32-bit integer column.
pub fn int_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().null().to_owned()
}

/// An optional double column.
pub fn double_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).double().null().to_owned()
}

/// An optional boolean column.
pub fn bool_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).boolean().null().to_owned()
}

/// A required boolean column with a default.
pub fn bool_default(name: &str, default: bool) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .boolean()
        .not_null()
        .default(default)
        .to_owned()
}

/// An optional calendar date.
pub fn date_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).date().null().to_owned()
}

/// A required point in time with time zone.
pub fn timestamp(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// An optional point in time with time zone.
pub fn timestamp_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// A JSON column (text on SQLite, json on PostgreSQL), required.
pub fn json(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .json()
        .not_null()
        .to_owned()
}

/// A foreign key from `table.column` to `target.id`.
pub fn fk(
    table: &str,
    column: &str,
    target: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(target), Alias::new("id"))
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index over `columns` of `table`, unique when asked.
pub fn index(table: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    let kind = if unique { "ux" } else { "ix" };
    i.name(format!("{kind}_{table}_{}", columns.join("_")))
        .table(Alias::new(table));
    for c in columns {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

/// A required 64-bit integer column with a default (for columns added to existing tables).
pub fn big_int_default(name: &str, default: i64) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .default(default)
        .to_owned()
}
