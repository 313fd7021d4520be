//! Turns a `;`-separated CSV into an `.xlsx` workbook the way a village office
//! keeps one: every cell a text cell (so NIKs keep all 16 digits), strings in
//! the workbook's shared-string table as Excel writes them. Used by
//! `agent/benches/import.sh` with `FORMAT=xlsx`.
//!
//!     cargo run --release -p lindung-agent --example csv_to_xlsx -- IN.csv OUT.xlsx

use std::io::{BufRead, BufReader};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: csv_to_xlsx IN.csv OUT.xlsx");
    };
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let reader = BufReader::new(std::fs::File::open(&input)?);
    for (row, line) in reader.lines().enumerate() {
        let line = line?;
        for (col, cell) in line.split(';').enumerate() {
            sheet.write_string(u32::try_from(row)?, u16::try_from(col)?, cell)?;
        }
    }
    workbook.save(&output)?;
    Ok(())
}
