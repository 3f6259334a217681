import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // Fails the run when a test leaves anything in the temporary folder (test/tmp-guard.ts).
        globalSetup: ["test/tmp-guard.ts"],
        include: ["core/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts", "lab/**/*.test.ts", "compare/**/*.test.ts", "policy/**/*.test.ts", "render/**/*.test.ts"],
        // Pulumi mocks are process-global: each test file runs in its own fork.
        pool: "forks",
        // Four files at a time on two cores: most test time is spent waiting (on child processes,
        // sockets, timeouts in namespaces), not computing. Measured on the 2-core machine: one file
        // at a time (vitest's default there) 528 s, four at a time 201 s, every test passing.
        maxWorkers: 4,
        testTimeout: 60_000,
        hookTimeout: 120_000,
    },
});
