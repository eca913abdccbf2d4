/**
 * The folder scripts/run-tests.mjs makes for one run (and removes after it), shared by its test
 * files for what is made once per run; undefined when a file is run by hand.
 */
export const RUN_DIR = process.env['IDGATE_TEST_RUN_DIR'];
