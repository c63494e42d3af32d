//! Who may reach the engine and what it may run, in PostgreSQL: API tokens (stored by the hash of
//! their secret), the service registry, configured platforms and analysis thresholds.

use loco_types::Error;
use loco_types::analysis::Thresholds;
use loco_types::freeze::FreezeWindow;
use loco_types::identity::Token;
use loco_types::model::Timestamp;
use loco_types::platform_config::PlatformConfig;
use loco_types::rules;
use loco_types::service::ServiceDefinition;
use tokio_postgres::Row;

use super::error::Result;
use super::pool::Conn;
use super::rows::{all, json, json_col, json_opt, parsed, parsed_opt, text};
use super::writer::WriteCtx;

const TOKEN_COLUMNS: &str = "id, name, subject, grants, created_by, created_at, expires_at, revoked_at";

fn token_from_row(row: &Row) -> Result<Token> {
    Ok(Token {
        id: text(row, 0)?,
        name: text(row, 1)?,
        subject: text(row, 2)?,
        grants: json_opt(row, 3)?.unwrap_or_default(),
        created_by: text(row, 4)?,
        created_at: parsed(row, 5)?,
        expires_at: parsed_opt(row, 6)?,
        revoked_at: parsed_opt(row, 7)?,
    })
}

pub(crate) async fn create_token(ctx: &mut WriteCtx, token: Token, hash: String) -> Result<Token> {
    let sql = format!("INSERT INTO tokens ({TOKEN_COLUMNS}, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    ctx.conn
        .execute(
            &sql,
            &[
                &token.id,
                &token.name,
                &token.subject,
                &json(&token.grants)?,
                &token.created_by,
                &token.created_at.to_string(),
                &token.expires_at.map(|t| t.to_string()),
                &token.revoked_at.map(|t| t.to_string()),
                &hash,
            ],
        )
        .await?;
    Ok(token)
}

pub(crate) async fn tokens(conn: &mut Conn) -> Result<Vec<Token>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC, id DESC");
    all(&conn.query(&sql, &[]).await?, token_from_row)
}

pub(crate) async fn token_by_hash(conn: &mut Conn, hash: &str) -> Result<Option<Token>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1");
    conn.query_opt(&sql, &[&hash]).await?.as_ref().map(token_from_row).transpose()
}

pub(crate) async fn revoke_token(ctx: &mut WriteCtx, id: String) -> Result<Token> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1");
    let Some(row) = ctx.conn.query_opt(&sql, &[&id]).await? else {
        return Err(Error::TokenNotFound { id }.into());
    };
    let token = rules::decide_revoke(token_from_row(&row)?, Timestamp::now());
    ctx.conn
        .execute("UPDATE tokens SET revoked_at = $1 WHERE id = $2", &[&token.revoked_at.map(|t| t.to_string()), &id])
        .await?;
    Ok(token)
}

pub(crate) async fn put_service(
    ctx: &mut WriteCtx,
    definition: ServiceDefinition,
    by: String,
) -> Result<ServiceDefinition> {
    ctx.conn
        .execute(
            "INSERT INTO services (name, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET definition = $2, updated_by = $3, updated_at = $4",
            &[&definition.name, &json(&definition)?, &by, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(definition)
}

pub(crate) async fn services(conn: &mut Conn) -> Result<Vec<ServiceDefinition>> {
    all(&conn.query("SELECT definition FROM services ORDER BY name", &[]).await?, |row| json_col(row, 0))
}

pub(crate) async fn service(conn: &mut Conn, name: &str) -> Result<ServiceDefinition> {
    match conn.query_opt("SELECT definition FROM services WHERE name = $1", &[&name]).await? {
        Some(row) => json_col(&row, 0),
        None => Err(Error::ServiceNotFound { name: name.to_owned() }.into()),
    }
}

pub(crate) async fn remove_service(ctx: &mut WriteCtx, name: String) -> Result<()> {
    let removed = ctx.conn.execute("DELETE FROM services WHERE name = $1", &[&name]).await?;
    if removed == 0 {
        return Err(Error::ServiceNotFound { name }.into());
    }
    Ok(())
}

pub(crate) async fn put_freeze_window(ctx: &mut WriteCtx, window: FreezeWindow, by: String) -> Result<FreezeWindow> {
    ctx.conn
        .execute(
            "INSERT INTO freeze_windows (name, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET definition = $2, updated_by = $3, updated_at = $4",
            &[&window.name, &json(&window)?, &by, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(window)
}

pub(crate) async fn freeze_windows(conn: &mut Conn) -> Result<Vec<FreezeWindow>> {
    let rows = conn.query("SELECT definition FROM freeze_windows ORDER BY name", &[]).await?;
    all(&rows, |row| json_col(row, 0))
}

pub(crate) async fn remove_freeze_window(ctx: &mut WriteCtx, name: String) -> Result<()> {
    let removed = ctx.conn.execute("DELETE FROM freeze_windows WHERE name = $1", &[&name]).await?;
    if removed == 0 {
        return Err(Error::FreezeWindowNotFound { name }.into());
    }
    Ok(())
}

pub(crate) async fn put_thresholds(ctx: &mut WriteCtx, environment: String, thresholds: Thresholds) -> Result<()> {
    ctx.conn
        .execute(
            "INSERT INTO thresholds (environment, document, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (environment) DO UPDATE SET document = $2, updated_at = $3",
            &[&environment, &json(&thresholds)?, &Timestamp::now().to_string()],
        )
        .await?;
    Ok(())
}

pub(crate) async fn thresholds(conn: &mut Conn) -> Result<Vec<(String, Thresholds)>> {
    let rows = conn.query("SELECT environment, document FROM thresholds ORDER BY environment", &[]).await?;
    all(&rows, |row| Ok((text(row, 0)?, json_col(row, 1)?)))
}

pub(crate) async fn put_platform(ctx: &mut WriteCtx, config: PlatformConfig) -> Result<PlatformConfig> {
    ctx.conn
        .execute(
            "INSERT INTO platforms (name, settings, token, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET settings = $2, token = $3, created_by = $4, created_at = $5",
            &[
                &config.name,
                &json(&config.settings)?,
                &config.token,
                &config.created_by,
                &config.created_at.to_string(),
            ],
        )
        .await?;
    Ok(config)
}

pub(crate) async fn platforms(conn: &mut Conn) -> Result<Vec<PlatformConfig>> {
    let rows =
        conn.query("SELECT name, settings, token, created_by, created_at FROM platforms ORDER BY name", &[]).await?;
    all(&rows, |row| {
        Ok(PlatformConfig {
            name: text(row, 0)?,
            settings: json_col(row, 1)?,
            token: text(row, 2)?,
            created_by: text(row, 3)?,
            created_at: parsed(row, 4)?,
        })
    })
}

pub(crate) async fn remove_platform(ctx: &mut WriteCtx, name: String) -> Result<()> {
    let removed = ctx.conn.execute("DELETE FROM platforms WHERE name = $1", &[&name]).await?;
    if removed == 0 {
        return Err(Error::PlatformNotFound { name }.into());
    }
    Ok(())
}

/// Re-seals every platform token; returns how many changed.
pub(crate) async fn reseal_platform_tokens(
    ctx: &mut WriteCtx,
    reseal: &(dyn Fn(&str) -> loco_types::Result<String> + Send + Sync),
) -> Result<u64> {
    let rows = ctx.conn.query("SELECT name, token FROM platforms", &[]).await?;
    let tokens: Vec<(String, String)> = all(&rows, |r| Ok((text(r, 0)?, text(r, 1)?)))?;
    let mut changed = 0;
    for (name, token) in tokens {
        let resealed = reseal(&token)?;
        if resealed != token {
            ctx.conn.execute("UPDATE platforms SET token = $1 WHERE name = $2", &[&resealed, &name]).await?;
            changed += 1;
        }
    }
    Ok(changed)
}
