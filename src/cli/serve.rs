//! `serve`, `users`, `tokens`: the web service and who may use it.

use super::{ArchiveArgs, keys_dir, open_existing};
use crate::serve::auth;
use crate::store::Unit;
use crate::store::accounts::Role;
use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Add a staff account (the password is asked for, or read from stdin).
    Add {
        name: String,
        #[arg(long, value_enum, default_value_t = RoleArg::Clerk)]
        role: RoleArg,
        /// Units whose documents the account sees (`*` for all); repeatable.
        #[arg(long = "unit", value_name = "CODE")]
        units: Vec<String>,
    },
    /// Let an account see a unit's documents (`*`: every unit).
    Grant { name: String, unit: String },
    /// Take a unit back from an account.
    Revoke { name: String, unit: String },
    /// Remove an account; its sessions and API tokens stop working, its audit entries stay.
    Remove { name: String },
    /// Set a new password (signs the user out everywhere).
    Passwd { name: String },
    /// Lift the sign-in lock that repeated wrong passwords put on an account.
    Unlock { name: String },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Create an API token acting as USER; printed once, only its hash is kept.
    Create {
        #[arg(long)]
        user: String,
        /// What the token is for ("cổng dịch vụ công", "nightly report").
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by its id (see `tokens list`).
    Revoke { id: i64 },
    /// List tokens (ids, owners, labels; never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    /// Searches and reads its units' documents.
    Viewer,
    /// Also corrects classifications.
    Clerk,
    /// Also reads the audit log of its units' documents.
    UnitAdmin,
    /// Every unit, the whole audit log.
    ArchiveAdmin,
    /// Earlier name of clerk.
    Staff,
    /// Earlier name of archive-admin.
    Admin,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Clerk | RoleArg::Staff => Role::Clerk,
            RoleArg::UnitAdmin => Role::UnitAdmin,
            RoleArg::ArchiveAdmin | RoleArg::Admin => Role::ArchiveAdmin,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UnitsCommand {
    /// Add or change a unit.
    Add {
        code: String,
        name: String,
        /// The unit it belongs to (its accounts see this one's documents).
        #[arg(long)]
        parent: Option<String>,
        /// An issuer code or agency name marking documents as this unit's; repeatable.
        #[arg(long = "issuer", value_name = "TEXT")]
        issuers: Vec<String>,
    },
    /// Load units from a JSON-lines file: {"code", "name", "parent"?, "issuers"?}.
    Load { file: std::path::PathBuf },
    /// List the units, with their parents and issuers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Give documents without a unit the one their issuer names.
    Apply,
    /// Set the unit owning a document, overriding what its issuer says.
    Assign { id: i64, unit: String },
}

/// A password from the terminal (twice, not echoed) or the first line of stdin.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt_hidden(&format!("{prompt}: "))?;
        let again = prompt_hidden("again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < auth::MIN_PASSWORD_CHARS {
        bail!(
            "password too short: at least {} characters",
            auth::MIN_PASSWORD_CHARS
        );
    }
    Ok(password)
}

/// Reads a line with the terminal's echo off.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    // SAFETY: termios calls on stdin's descriptor with a zeroed struct they fill in.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let have_tty = unsafe { libc::tcgetattr(0, &mut saved) } == 0;
    if have_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have_tty {
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) fn users_command(db: &Path, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let mut store = crate::store::open(db)?;
    match command {
        UsersCommand::Add { name, role, units } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
                bail!("a user name is one word without spaces");
            }
            if store.user(&name)?.is_some() {
                bail!(
                    "user '{name}' already exists (`sohoa users passwd {name}` sets a new password)"
                );
            }
            let password = read_password(&format!("password for {name}"))?;
            let role = role.role();
            store.add_user(&name, role, &auth::hash_password(&password)?)?;
            for unit in &units {
                store.grant_unit(&name, unit)?;
            }
            println!(
                "user {name} added ({}{})",
                role.as_str(),
                if units.is_empty() {
                    String::new()
                } else {
                    format!(", units {}", units.join(", "))
                }
            );
        }
        UsersCommand::Grant { name, unit } => {
            store.grant_unit(&name, &unit)?;
            println!("{name} sees the documents of {unit}");
        }
        UsersCommand::Revoke { name, unit } => {
            if !store.revoke_unit(&name, &unit)? {
                bail!("{name} did not have {unit}");
            }
            println!("{name} no longer sees the documents of {unit}");
        }
        UsersCommand::Remove { name } => {
            if !store.remove_user(&name)? {
                bail!("no user '{name}'");
            }
            println!("user {name} removed; their sessions and tokens no longer work");
        }
        UsersCommand::Passwd { name } => {
            if store.user(&name)?.is_none() {
                bail!("no user '{name}'");
            }
            let password = read_password(&format!("new password for {name}"))?;
            store.set_password(&name, &auth::hash_password(&password)?)?;
            println!("password of {name} changed; their sessions were ended");
        }
        UsersCommand::Unlock { name } => {
            if store.unlock_sign_in(&name)? {
                println!("{name} may sign in again");
            } else {
                println!("{name} was not locked");
            }
        }
        UsersCommand::List { json } => {
            let users = store.users()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    println!(
                        "{:<20} {:<6} since {}",
                        u.name,
                        u.role.as_str(),
                        u.created_at
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tokens_command(db: &Path, command: TokensCommand) -> anyhow::Result<ExitCode> {
    let mut store = open_existing(db)?;
    match command {
        TokensCommand::Create { user, label } => {
            let Some(owner) = store.user(&user)? else {
                bail!("no user '{user}' (`sohoa users add {user}` first)");
            };
            let token = format!("{}{}", auth::TOKEN_PREFIX, auth::new_token()?);
            let id = store.create_token(owner.id, &label, &auth::token_hash(&token))?;
            eprintln!(
                "token {id} for {user} (shown once; send it as 'Authorization: Bearer TOKEN'):"
            );
            println!("{token}");
        }
        TokensCommand::Revoke { id } => {
            if !store.revoke_token(id)? {
                bail!("no active token {id}");
            }
            println!("token {id} revoked");
        }
        TokensCommand::List { json } => {
            let tokens = store.tokens()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                for t in tokens {
                    println!(
                        "{:>4}  {:<16} {:<24} created {}{}",
                        t.id,
                        t.user,
                        t.label,
                        t.created_at,
                        t.revoked_at
                            .map_or(String::new(), |r| format!(", revoked {r}"))
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sohoa serve`'s flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Reverse proxies (addresses or CIDR networks) whose Forwarded or
    /// X-Forwarded-For header names the client; from anyone else it is ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR", num_args = 1..)]
    pub trusted_proxies: Vec<crate::serve::Cidr>,
    /// Seconds a client has to send a request's headers.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::serve::ConnectionConfig::default().header_read_timeout.as_secs())]
    pub header_timeout: u64,
    /// Connections open at once, in all.
    #[arg(long, value_name = "N", default_value_t = crate::serve::ConnectionConfig::default().max_connections)]
    pub max_connections: usize,
    /// Connections open at once from one address (trusted proxies excepted).
    #[arg(long, value_name = "N", default_value_t = crate::serve::ConnectionConfig::default().max_connections_per_address)]
    pub max_connections_per_address: usize,
}

pub(crate) fn serve_command(cli: &ArchiveArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let db = &cli.db;
    let _ = open_existing(db)?;
    let taxonomy = super::classify::load_taxonomy(cli.taxonomy.as_deref())?;
    crate::serve::serve(crate::serve::ServeConfig {
        addr: args.addr,
        db: db.to_path_buf(),
        keys: keys_dir(cli),
        taxonomy,
        connections: crate::serve::ConnectionConfig {
            trusted_proxies: args.trusted_proxies,
            header_read_timeout: std::time::Duration::from_secs(args.header_timeout.max(1)),
            max_connections: args.max_connections.max(1),
            max_connections_per_address: args.max_connections_per_address.max(1),
        },
    })
    .with_context(|| format!("sohoa serve {}", crate::location::display(db)))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn units_command(db: &Path, command: UnitsCommand) -> anyhow::Result<ExitCode> {
    let mut store = crate::store::open(db)?;
    match command {
        UnitsCommand::Add {
            code,
            name,
            parent,
            issuers,
        } => {
            let unit = Unit {
                code: code.trim().to_owned(),
                name,
                parent,
                issuers,
            };
            check_unit(&unit)?;
            store.put_unit(&unit)?;
            println!("unit {} ({}) saved", unit.code, unit.name);
        }
        UnitsCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut units = Vec::new();
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let unit: Unit = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}: not a unit", file.display(), n + 1))?;
                check_unit(&unit).with_context(|| format!("{}:{}", file.display(), n + 1))?;
                units.push(unit);
            }
            // Parents first, whatever the file's order.
            let mut saved: Vec<String> = store.units()?.into_iter().map(|u| u.code).collect();
            while !units.is_empty() {
                let before = units.len();
                let (ready, waiting): (Vec<Unit>, Vec<Unit>) = units
                    .into_iter()
                    .partition(|u| u.parent.as_ref().is_none_or(|p| saved.contains(p)));
                for unit in &ready {
                    store.put_unit(unit)?;
                    saved.push(unit.code.clone());
                }
                units = waiting;
                if units.len() == before {
                    bail!(
                        "{}: unit {} names a parent that is not a unit",
                        file.display(),
                        units[0].code
                    );
                }
            }
            println!("{} units known", store.units()?.len());
        }
        UnitsCommand::List { json } => {
            let units = store.units()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&units)?);
            } else {
                for u in units {
                    println!(
                        "{}\t{}{}{}",
                        u.code,
                        u.name,
                        u.parent.map_or(String::new(), |p| format!("\t(in {p})")),
                        if u.issuers.is_empty() {
                            String::new()
                        } else {
                            format!("\tissuers: {}", u.issuers.join("; "))
                        }
                    );
                }
            }
        }
        UnitsCommand::Apply => {
            let units = store.units()?;
            let mut assigned = 0;
            let mut left = 0;
            for (id, fields) in store.unowned_documents()? {
                match fields.as_ref().and_then(|f| crate::units::owner(&units, f)) {
                    Some(unit) => {
                        store.set_unit(id, Some(&unit.code))?;
                        assigned += 1;
                    }
                    None => left += 1,
                }
            }
            store.flush_index()?;
            println!(
                "{assigned} documents given a unit; {left} still without one (`sohoa units assign ID UNIT`)"
            );
        }
        UnitsCommand::Assign { id, unit } => {
            if !store.units()?.iter().any(|u| u.code == unit) {
                bail!("no unit '{unit}' (`sohoa units list`)");
            }
            if !store.set_unit(id, Some(&unit))? {
                bail!("no document {id}");
            }
            store.flush_index()?;
            println!("document {id} belongs to {unit}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_unit(unit: &Unit) -> anyhow::Result<()> {
    if unit.code.is_empty()
        || unit.code == "*"
        || unit
            .code
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        bail!(
            "a unit code is one word without spaces (not '*'): {:?}",
            unit.code
        );
    }
    if unit.name.trim().is_empty() {
        bail!("unit {} has no name", unit.code);
    }
    Ok(())
}
