import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const include = ["core/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts", "lab/**/*.test.ts", "compare/**/*.test.ts", "policy/**/*.test.ts", "render/**/*.test.ts"];
/** Tests that assert on the whole machine (no new network namespace anywhere): they run after
 * the others, so the root tests' own namespaces cannot appear in their before/after lists. */
const wholeMachine = ["test/hostile-input*.test.ts"];

/**
 * Files that take a minute or so on the 2-core machine (measured), started first. A fresh clone (CI)
 * has no durations cached, and vitest then orders by file size, which started the three-line
 * security-group files last and made the run a minute longer.
 */
const slowFirst = [/\.root\.test\.ts$/, /compare\/(cli|fake-pulumi)\.test\.ts$/, /bench\/measure\/scaling\.test\.ts$/, /bench\/sessions\/(ssh-sessions|aws-k3s)\.test\.ts$/];

class SlowFilesFirst extends BaseSequencer {
    async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
        const sorted = await super.sort(files);
        const slow = (file: TestSpecification) => slowFirst.some((pattern) => pattern.test(file.moduleId));
        return [...sorted.filter(slow), ...sorted.filter((file) => !slow(file))];
    }
}

export default defineConfig({
    test: {
        // Fails the run when a test leaves anything in the temporary folder (test/tmp-guard.ts).
        globalSetup: ["test/tmp-guard.ts"],
        // Pulumi mocks are process-global: each test file runs in its own fork.
        pool: "forks",
        // Four files at a time on two cores: most test time is spent waiting (on child processes,
        // sockets, timeouts in namespaces), not computing. Measured on the 2-core machine: one file
        // at a time (vitest's default there) 528 s, four at a time 201 s, every test passing.
        maxWorkers: 4,
        sequence: { sequencer: SlowFilesFirst },
        testTimeout: 60_000,
        hookTimeout: 120_000,
        projects: [
            { extends: true, test: { name: "main", include, exclude: wholeMachine, sequence: { groupOrder: 0 } } },
            { extends: true, test: { name: "whole-machine", include: wholeMachine, sequence: { groupOrder: 1 } } },
        ],
    },
});
