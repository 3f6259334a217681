/**
 * TEST-ONLY entry of `npm run lab`: the real command (lab/cli.ts) with its ledgers in the folder
 * LAB_TEST_LEDGER_DIR names, so root tests never touch /run/cni-lab. Production never loads it.
 */
import { runLabEntry } from "../../lab/cli";

const ledgerDir = process.env.LAB_TEST_LEDGER_DIR;
if (!ledgerDir) {
    console.error("lab-entry: LAB_TEST_LEDGER_DIR is not set: this entry is for tests only (use lab/cli.ts)");
    process.exit(2);
}
runLabEntry(__filename, { ledgerDir });
