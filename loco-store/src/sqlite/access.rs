//! Who may reach the engine and what it may run, in SQLite: API tokens (stored by the hash of
//! their secret), the service registry, and the policy it enforces (freeze windows).

use loco_types::Error;
use loco_types::analysis::Thresholds;
use loco_types::freeze::FreezeWindow;
use loco_types::identity::Token;
use loco_types::model::Timestamp;
use loco_types::platform_config::{PlatformConfig, PlatformSettings};
use loco_types::rules;
use loco_types::service::ServiceDefinition;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{json, json_column, parsed, parsed_opt};
use super::writer::WriteCtx;
use crate::error::Result;

const TOKEN_COLUMNS: &str = "id, name, subject, grants, created_by, created_at, expires_at, revoked_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        id: row.get(0)?,
        name: row.get(1)?,
        subject: row.get(2)?,
        grants: json_column(row, 3)?.unwrap_or_default(),
        created_by: row.get(4)?,
        created_at: parsed(row, 5)?,
        expires_at: parsed_opt(row, 6)?,
        revoked_at: parsed_opt(row, 7)?,
    })
}

pub(crate) fn create_token(ctx: &mut WriteCtx<'_>, token: Token, hash: &str) -> Result<Token> {
    ctx.conn
        .prepare_cached(&format!(
            "INSERT INTO tokens ({TOKEN_COLUMNS}, token_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))?
        .execute(params![
            token.id,
            token.name,
            token.subject,
            json(&token.grants)?,
            token.created_by,
            token.created_at.to_string(),
            token.expires_at.map(|t| t.to_string()),
            token.revoked_at.map(|t| t.to_string()),
            hash,
        ])?;
    Ok(token)
}

pub(crate) fn tokens(conn: &Connection) -> Result<Vec<Token>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC, id DESC"))?
        .query_map([], token_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn token_by_hash(conn: &Connection, hash: &str) -> Result<Option<Token>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?1"))?
        .query_row(params![hash], token_from_row)
        .optional()?)
}

pub(crate) fn revoke_token(ctx: &mut WriteCtx<'_>, id: &str) -> Result<Token> {
    let token = ctx
        .conn
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?
        .query_row(params![id], token_from_row)
        .optional()?
        .ok_or_else(|| Error::TokenNotFound { id: id.to_owned() })?;
    let token = rules::decide_revoke(token, Timestamp::now());
    ctx.conn
        .prepare_cached("UPDATE tokens SET revoked_at = ?1 WHERE id = ?2")?
        .execute(params![token.revoked_at.map(|t| t.to_string()), id])?;
    Ok(token)
}

pub(crate) fn put_service(
    ctx: &mut WriteCtx<'_>,
    definition: ServiceDefinition,
    by: &str,
) -> Result<ServiceDefinition> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO services (name, definition, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name) DO UPDATE SET definition = ?2, updated_by = ?3, updated_at = ?4",
        )?
        .execute(params![definition.name, json(&definition)?, by, Timestamp::now().to_string()])?;
    Ok(definition)
}

pub(crate) fn put_thresholds(ctx: &mut WriteCtx<'_>, environment: &str, thresholds: &Thresholds) -> Result<()> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO thresholds (environment, document, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (environment) DO UPDATE SET document = ?2, updated_at = ?3",
        )?
        .execute(params![environment, json(thresholds)?, Timestamp::now().to_string()])?;
    Ok(())
}

pub(crate) fn thresholds(conn: &Connection) -> Result<Vec<(String, Thresholds)>> {
    let rows = conn
        .prepare_cached("SELECT environment, document FROM thresholds ORDER BY environment")?
        .query_map([], |row| Ok((row.get::<_, String>(0)?, json_column::<Thresholds>(row, 1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter_map(|(environment, t)| t.map(|t| (environment, t))).collect())
}

pub(crate) fn services(conn: &Connection) -> Result<Vec<ServiceDefinition>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM services ORDER BY name")?
        .query_map([], |row| json_column::<ServiceDefinition>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

pub(crate) fn service(conn: &Connection, name: &str) -> Result<ServiceDefinition> {
    let definition: Option<Option<ServiceDefinition>> = conn
        .prepare_cached("SELECT definition FROM services WHERE name = ?1")?
        .query_row(params![name], |row| json_column(row, 0))
        .optional()?;
    definition.flatten().ok_or_else(|| Error::ServiceNotFound { name: name.to_owned() }.into())
}

pub(crate) fn put_platform(ctx: &mut WriteCtx<'_>, config: PlatformConfig) -> Result<PlatformConfig> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO platforms (name, settings, token, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (name) DO UPDATE SET settings = ?2, token = ?3, created_by = ?4, created_at = ?5",
        )?
        .execute(params![
            config.name,
            json(&config.settings)?,
            config.token,
            config.created_by,
            config.created_at.to_string()
        ])?;
    Ok(config)
}

pub(crate) fn platforms(conn: &Connection) -> Result<Vec<PlatformConfig>> {
    let rows = conn
        .prepare_cached("SELECT name, settings, token, created_by, created_at FROM platforms ORDER BY name")?
        .query_map([], |row| {
            let Some(settings) = json_column::<PlatformSettings>(row, 1)? else { return Ok(None) };
            Ok(Some(PlatformConfig {
                name: row.get(0)?,
                settings,
                token: row.get(2)?,
                created_by: row.get(3)?,
                created_at: parsed(row, 4)?,
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().flatten().collect())
}

pub(crate) fn remove_platform(ctx: &mut WriteCtx<'_>, name: &str) -> Result<()> {
    let removed = ctx.conn.prepare_cached("DELETE FROM platforms WHERE name = ?1")?.execute(params![name])?;
    if removed == 0 {
        return Err(Error::PlatformNotFound { name: name.to_owned() }.into());
    }
    Ok(())
}

/// Re-seals every platform token; returns how many changed.
pub(crate) fn reseal_platform_tokens(
    ctx: &mut WriteCtx<'_>,
    reseal: &dyn Fn(&str) -> loco_types::Result<String>,
) -> Result<u64> {
    let tokens: Vec<(String, String)> = ctx
        .conn
        .prepare_cached("SELECT name, token FROM platforms")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut changed = 0;
    for (name, token) in tokens {
        let resealed = reseal(&token)?;
        if resealed != token {
            ctx.conn
                .prepare_cached("UPDATE platforms SET token = ?1 WHERE name = ?2")?
                .execute(params![resealed, name])?;
            changed += 1;
        }
    }
    Ok(changed)
}

pub(crate) fn put_freeze_window(ctx: &mut WriteCtx<'_>, window: FreezeWindow, by: &str) -> Result<FreezeWindow> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO freeze_windows (name, definition, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name) DO UPDATE SET definition = ?2, updated_by = ?3, updated_at = ?4",
        )?
        .execute(params![window.name, json(&window)?, by, Timestamp::now().to_string()])?;
    Ok(window)
}

pub(crate) fn freeze_windows(conn: &Connection) -> Result<Vec<FreezeWindow>> {
    Ok(conn
        .prepare_cached("SELECT definition FROM freeze_windows ORDER BY name")?
        .query_map([], |row| json_column::<FreezeWindow>(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

pub(crate) fn remove_freeze_window(ctx: &mut WriteCtx<'_>, name: &str) -> Result<()> {
    let removed = ctx.conn.prepare_cached("DELETE FROM freeze_windows WHERE name = ?1")?.execute(params![name])?;
    if removed == 0 {
        return Err(Error::FreezeWindowNotFound { name: name.to_owned() }.into());
    }
    Ok(())
}

pub(crate) fn remove_service(ctx: &mut WriteCtx<'_>, name: &str) -> Result<()> {
    let removed = ctx.conn.prepare_cached("DELETE FROM services WHERE name = ?1")?.execute(params![name])?;
    if removed == 0 {
        return Err(Error::ServiceNotFound { name: name.to_owned() }.into());
    }
    Ok(())
}
