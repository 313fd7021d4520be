//! Configuration files: one TOML file per program whose values become the
//! defaults of its command-line options (feature `cli`).
//!
//! A key names an option by its long name with `_` for `-` (`log_format`
//! for `--log-format`). Top-level keys set options that many commands share
//! (`database` on the server, `lang` and `data_dir` on the agent); a table
//! `[serve]` sets the options of that command. Precedence, highest first: the
//! command line, the `LINDUNG_*` environment variable of the option, the
//! file, the built-in default — so no file at all still works.
//!
//! The file is read by the binaries; this module only reads text and changes
//! a [`clap::Command`], so it stays free of I/O.

use std::ffi::OsString;

use clap::Command;

/// One `key = value` of a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The table it is in (`None`: top level).
    pub section: Option<String>,
    /// The key.
    pub key: String,
    /// The value, as it would be written on the command line.
    pub value: String,
}

impl Entry {
    /// `section.key` or `key`.
    pub fn name(&self) -> String {
        match &self.section {
            Some(section) => format!("{section}.{}", self.key),
            None => self.key.clone(),
        }
    }
}

/// What is wrong with a configuration file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML.
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// A table this program does not read.
    #[error("unknown table [{section}]; the tables are: {valid}")]
    UnknownSection {
        /// The table.
        section: String,
        /// The tables there are.
        valid: String,
    },
    /// A key no option has.
    #[error("unknown key `{name}`; the keys here are: {valid}")]
    UnknownKey {
        /// `section.key`.
        name: String,
        /// The keys there are in that place.
        valid: String,
    },
    /// A value the option refuses.
    #[error("`{name}` = {value:?}: {reason}")]
    BadValue {
        /// `section.key`.
        name: String,
        /// The value.
        value: String,
        /// Why (clap's words).
        reason: String,
    },
    /// A table or list where a single value belongs.
    #[error("`{0}` must be a single value (text, number or true/false)")]
    NotAValue(String),
}

/// The entries of a configuration file's text, in file order.
pub fn parse(text: &str) -> Result<Vec<Entry>, ConfigError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string().trim().to_owned()))?;
    let mut entries = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => {
                for (inner_key, inner_value) in inner {
                    let name = format!("{key}.{inner_key}");
                    entries.push(Entry {
                        section: Some(key.clone()),
                        key: inner_key,
                        value: scalar(&inner_value).ok_or(ConfigError::NotAValue(name))?,
                    });
                }
            }
            other => {
                let value = scalar(&other).ok_or_else(|| ConfigError::NotAValue(key.clone()))?;
                entries.push(Entry {
                    section: None,
                    key,
                    value,
                });
            }
        }
    }
    Ok(entries)
}

fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Options that a file may not set: they say what to do, not how.
const NOT_CONFIGURABLE: &[&str] = &["help", "version", "config", "json"];

fn configurable(arg: &clap::Arg) -> bool {
    arg.get_long().is_some()
        && !arg.is_hide_set()
        && !NOT_CONFIGURABLE.contains(&arg.get_id().as_str())
}

fn keys_of(command: &Command) -> Vec<String> {
    command
        .get_arguments()
        .filter(|arg| configurable(arg))
        .map(|arg| arg.get_id().as_str().to_owned())
        .collect()
}

/// Checks `value` against the option `key` of the subcommand `path` by
/// parsing a command line that gives it; `None` when clap takes it.
fn refusal(command: &Command, path: &[&str], long: &str, value: &str) -> Option<String> {
    let mut target = command;
    for name in path {
        target = target.find_subcommand(name)?;
    }
    let is_flag = target
        .get_arguments()
        .chain(command.get_arguments())
        .find(|arg| arg.get_long() == Some(long))
        .is_some_and(|arg| !arg.get_action().takes_values());
    if is_flag {
        return (value != "true" && value != "false").then(|| "expected true or false".to_owned());
    }
    let mut argv: Vec<OsString> = vec![command.get_name().into()];
    argv.extend(path.iter().map(OsString::from));
    argv.push(format!("--{long}={value}").into());
    match command.clone().try_get_matches_from(argv) {
        Ok(_) => None,
        Err(error) => match error.kind() {
            clap::error::ErrorKind::InvalidValue
            | clap::error::ErrorKind::ValueValidation
            | clap::error::ErrorKind::NoEquals
            | clap::error::ErrorKind::TooManyValues => Some(
                error
                    .render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_owned(),
            ),
            _ => None,
        },
    }
}

/// Makes `entries` the defaults of `command`'s options. `sections` are the
/// subcommands whose options a table may set. Every problem is reported,
/// not only the first.
pub fn apply(
    mut command: Command,
    entries: &[Entry],
    sections: &[&str],
) -> Result<Command, Vec<ConfigError>> {
    let mut errors = Vec::new();
    for entry in entries {
        let name = entry.name();
        match &entry.section {
            Some(section) => {
                if !sections.contains(&section.as_str()) {
                    errors.push(ConfigError::UnknownSection {
                        section: section.clone(),
                        valid: sections.join(", "),
                    });
                    continue;
                }
                let Some(sub) = command.find_subcommand(section) else {
                    errors.push(ConfigError::UnknownSection {
                        section: section.clone(),
                        valid: sections.join(", "),
                    });
                    continue;
                };
                let Some(long) = sub
                    .get_arguments()
                    .find(|arg| configurable(arg) && arg.get_id() == entry.key.as_str())
                    .and_then(|arg| arg.get_long())
                    .map(str::to_owned)
                else {
                    errors.push(ConfigError::UnknownKey {
                        name,
                        valid: keys_of(sub).join(", "),
                    });
                    continue;
                };
                if let Some(reason) = refusal(&command, &[section], &long, &entry.value) {
                    errors.push(ConfigError::BadValue {
                        name,
                        value: entry.value.clone(),
                        reason,
                    });
                    continue;
                }
                let value = entry.value.clone();
                let key = entry.key.clone();
                command = command.mut_subcommand(section, move |sub| {
                    sub.mut_arg(key, move |arg| arg.default_value(value))
                });
            }
            None => match top_level_target(&command, &entry.key) {
                None => errors.push(ConfigError::UnknownKey {
                    name,
                    valid: top_level_keys(&command).join(", "),
                }),
                Some((path, long)) => {
                    let path: Vec<&str> = path.iter().map(String::as_str).collect();
                    if let Some(reason) = refusal(&command, &path, &long, &entry.value) {
                        errors.push(ConfigError::BadValue {
                            name,
                            value: entry.value.clone(),
                            reason,
                        });
                        continue;
                    }
                    command = set_everywhere(command, &entry.key, &entry.value);
                }
            },
        }
    }
    if errors.is_empty() {
        Ok(command)
    } else {
        Err(errors)
    }
}

/// Where a top-level key is an option: the root's own (global) options,
/// else options that subcommands share (e.g. `--database`): the path to a
/// subcommand that has it, and its long name.
fn top_level_target(command: &Command, key: &str) -> Option<(Vec<String>, String)> {
    if let Some(arg) = command
        .get_arguments()
        .find(|arg| configurable(arg) && arg.get_id() == key)
    {
        // A global option parses after any subcommand; pick one without
        // required arguments so the check is about the value alone.
        let sub = command
            .get_subcommands()
            .find(|sub| !sub.get_arguments().any(clap::Arg::is_required_set))
            .map(|sub| vec![sub.get_name().to_owned()])
            .unwrap_or_default();
        return arg.get_long().map(|long| (sub, long.to_owned()));
    }
    command.get_subcommands().find_map(|sub| {
        sub.get_arguments()
            .find(|arg| configurable(arg) && arg.get_id() == key && arg.is_global_set())
            .and_then(|arg| arg.get_long())
            .map(|long| (vec![sub.get_name().to_owned()], long.to_owned()))
    })
}

fn top_level_keys(command: &Command) -> Vec<String> {
    let mut keys = keys_of(command);
    for sub in command.get_subcommands() {
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str().to_owned();
            if configurable(arg) && arg.is_global_set() && !keys.contains(&id) {
                keys.push(id);
            }
        }
    }
    keys
}

/// Sets the default of the option `key` on the command and on every
/// subcommand (at any depth) that has it.
fn set_everywhere(mut command: Command, key: &str, value: &str) -> Command {
    if command.get_arguments().any(|arg| arg.get_id() == key) {
        let value = value.to_owned();
        command = command.mut_arg(key, move |arg| arg.default_value(value));
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        let (key, value) = (key.to_owned(), value.to_owned());
        command = command.mut_subcommand(name, move |sub| set_everywhere(sub, &key, &value));
    }
    command
}

/// A command configured from a file (or from none).
#[derive(Debug)]
pub struct Configured {
    /// The command with the file's values as defaults.
    pub command: Command,
    /// The file used (`None`: no file; built-in defaults).
    pub source: Option<std::path::PathBuf>,
    /// Its entries, in file order.
    pub entries: Vec<Entry>,
}

/// A configuration file that cannot be used, and why.
#[derive(Debug)]
pub struct ConfigFailure {
    /// The file.
    pub path: std::path::PathBuf,
    /// Every problem found (an unreadable file is one `Syntax` problem).
    pub errors: Vec<ConfigError>,
}

impl std::fmt::Display for ConfigFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration file {}:", self.path.display())?;
        for error in &self.errors {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

/// The exit code for a configuration file that cannot be used: 1 when the
/// command was `config check` (it did its job: it found problems), 2 when
/// another command refused to run on it.
pub fn failure_exit_code(args: &[OsString]) -> u8 {
    if args
        .windows(2)
        .any(|pair| pair[0] == "config" && pair[1] == "check")
    {
        1
    } else {
        2
    }
}

/// Finds the configuration file (`--config`, else `from_env`, else the
/// first of `defaults` that exists), reads it with `read` and applies it to
/// `command` (see [`apply`]). An explicitly named file must exist; a default
/// place may be empty. `read` is the caller's (this crate does no I/O).
pub fn configure(
    command: Command,
    args: &[OsString],
    from_env: Option<OsString>,
    defaults: &[std::path::PathBuf],
    sections: &[&str],
    read: impl Fn(&std::path::Path) -> std::io::Result<String>,
) -> Result<Configured, ConfigFailure> {
    let explicit = explicit_path(args, from_env).map(std::path::PathBuf::from);
    let found = match explicit {
        Some(path) => match read(&path) {
            Ok(text) => Some((path, text)),
            Err(error) => {
                return Err(ConfigFailure {
                    path,
                    errors: vec![ConfigError::Syntax(format!("cannot read it: {error}"))],
                });
            }
        },
        None => defaults
            .iter()
            .find_map(|path| match read(path) {
                Ok(text) => Some(Ok((path.clone(), text))),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) => Some(Err(ConfigFailure {
                    path: path.clone(),
                    errors: vec![ConfigError::Syntax(format!("cannot read it: {error}"))],
                })),
            })
            .transpose()?,
    };
    let Some((path, text)) = found else {
        return Ok(Configured {
            command,
            source: None,
            entries: Vec::new(),
        });
    };
    let entries = parse(&text).map_err(|error| ConfigFailure {
        path: path.clone(),
        errors: vec![error],
    })?;
    let command = apply(command, &entries, sections).map_err(|errors| ConfigFailure {
        path: path.clone(),
        errors,
    })?;
    Ok(Configured {
        command,
        source: Some(path),
        entries,
    })
}

/// Which configuration file applies: `--config PATH` (or `--config=PATH`) on
/// the command line, else `from_env` (`LINDUNG_CONFIG`); `None` means the
/// caller looks at its default places (a file there is optional).
pub fn explicit_path(args: &[OsString], from_env: Option<OsString>) -> Option<OsString> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return iter.next().cloned();
        }
        if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(path.into());
        }
    }
    from_env.filter(|value| !value.is_empty())
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn program() -> Command {
        Command::new("prog")
            .arg(
                Arg::new("lang")
                    .long("lang")
                    .global(true)
                    .value_parser(["id", "en"])
                    .default_value("id"),
            )
            .arg(Arg::new("config").long("config").global(true))
            .subcommand(
                Command::new("serve")
                    .arg(
                        Arg::new("listen")
                            .long("listen")
                            .value_parser(clap::value_parser!(std::net::SocketAddr))
                            .default_value("127.0.0.1:8080"),
                    )
                    .arg(
                        Arg::new("database")
                            .long("database")
                            .global(true)
                            .env("PROG_TEST_DATABASE_UNSET"),
                    )
                    .arg(Arg::new("quiet").long("quiet").action(ArgAction::SetTrue)),
            )
            .subcommand(
                Command::new("backup")
                    .arg(Arg::new("file").required(true))
                    .arg(Arg::new("database").long("database").global(true)),
            )
    }

    #[test]
    fn a_file_sets_defaults_and_the_command_line_still_wins() {
        let entries = parse(
            "lang = \"en\"\ndatabase = \"sqlite:///var/lib/x.sqlite\"\n[serve]\nlisten = \"0.0.0.0:9000\"\nquiet = true\n",
        )
        .expect("parses");
        let command = apply(program(), &entries, &["serve"]).expect("applies");
        let matches = command
            .clone()
            .try_get_matches_from(["prog", "serve"])
            .expect("parses");
        assert_eq!(
            matches.get_one::<String>("lang").map(String::as_str),
            Some("en")
        );
        let serve = matches.subcommand_matches("serve").expect("serve");
        assert_eq!(
            serve
                .get_one::<std::net::SocketAddr>("listen")
                .map(ToString::to_string),
            Some("0.0.0.0:9000".to_owned())
        );
        assert!(serve.get_flag("quiet"));
        assert_eq!(
            serve.get_one::<String>("database").map(String::as_str),
            Some("sqlite:///var/lib/x.sqlite")
        );
        let backup = command
            .clone()
            .try_get_matches_from(["prog", "backup", "f"])
            .expect("parses");
        assert_eq!(
            backup
                .subcommand_matches("backup")
                .and_then(|m| m.get_one::<String>("database"))
                .map(String::as_str),
            Some("sqlite:///var/lib/x.sqlite")
        );
        let given = command
            .try_get_matches_from(["prog", "serve", "--listen", "127.0.0.1:1"])
            .expect("parses");
        assert_eq!(
            given
                .subcommand_matches("serve")
                .and_then(|m| m.get_one::<std::net::SocketAddr>("listen"))
                .map(ToString::to_string),
            Some("127.0.0.1:1".to_owned())
        );
    }

    #[test]
    fn every_unknown_key_and_bad_value_is_reported_with_its_name() {
        let entries = parse(
            "colour = \"blue\"\nlang = \"fr\"\n[serve]\nlisten = \"everywhere\"\nlisen = \"x\"\n[officer]\nname = \"x\"\n",
        )
        .expect("parses");
        let errors = apply(program(), &entries, &["serve"]).expect_err("refused");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 5, "{text:#?}");
        assert!(
            text[0].starts_with("unknown key `colour`; the keys here are: lang, database"),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("`lang` = \"fr\": invalid value 'fr'"),
            "{}",
            text[1]
        );
        assert!(
            text[2].starts_with("`serve.listen` = \"everywhere\": invalid value"),
            "{}",
            text[2]
        );
        assert!(text[3].contains("unknown key `serve.lisen`"), "{}", text[3]);
        assert!(text[3].contains("listen, database, quiet"), "{}", text[3]);
        assert_eq!(text[4], "unknown table [officer]; the tables are: serve");
    }

    #[test]
    fn not_toml_or_not_a_single_value_is_refused() {
        assert!(matches!(parse("listen = "), Err(ConfigError::Syntax(_))));
        assert_eq!(
            parse("[serve]\nlisten = [1, 2]"),
            Err(ConfigError::NotAValue("serve.listen".into()))
        );
        assert_eq!(parse("").expect("empty is fine"), Vec::new());
    }

    #[test]
    fn the_file_comes_from_the_command_line_then_the_environment() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            explicit_path(
                &args(&["p", "serve", "--config", "a.toml"]),
                Some("b".into())
            ),
            Some("a.toml".into())
        );
        assert_eq!(
            explicit_path(&args(&["p", "--config=a.toml"]), None),
            Some("a.toml".into())
        );
        assert_eq!(
            explicit_path(&args(&["p", "serve"]), Some("b".into())),
            Some("b".into())
        );
        assert_eq!(explicit_path(&args(&["p", "serve"]), Some("".into())), None);
        assert_eq!(
            explicit_path(&args(&["p", "--", "--config", "x"]), None),
            None
        );
    }
}
