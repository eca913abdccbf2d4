// Compiles the product and the tests together into .build/ (tsconfig.test.json, incrementally), as
// `tsc -p tsconfig.test.json` does and printing what it would print, but in the calling process, so
// that the lint can use the same program (scripts/lint-with-program.mjs) rather than build its own.
import ts from 'typescript';

const CONFIG = 'tsconfig.test.json';

/** Compiles and emits; returns the program (for the lint) and whether any error was found. */
export function compileTests() {
  const parsed = ts.getParsedCommandLineOfConfigFile(CONFIG, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: report });
  if (parsed === undefined) return { ok: false, program: undefined };
  const builder = ts.createIncrementalProgram({
    rootNames: parsed.fileNames,
    options: parsed.options,
    projectReferences: parsed.projectReferences,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
  });
  const diagnostics = [
    ...builder.getConfigFileParsingDiagnostics(),
    ...builder.getOptionsDiagnostics(),
    ...builder.getGlobalDiagnostics(),
    ...builder.getSyntacticDiagnostics(),
    ...builder.getSemanticDiagnostics(),
    ...builder.emit().diagnostics,
  ];
  for (const diagnostic of diagnostics) report(diagnostic);
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error).length;
  if (errors > 0) process.stdout.write(`\nFound ${errors} error${errors === 1 ? '' : 's'}.\n`);
  return { ok: errors === 0, program: builder.getProgram() };
}

const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => ts.sys.newLine };

function report(diagnostic) {
  const text = process.stdout.isTTY ? ts.formatDiagnosticsWithColorAndContext([diagnostic], host) : ts.formatDiagnostic(diagnostic, host);
  process.stdout.write(text);
}
