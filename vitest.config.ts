import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // Fails the run when a test leaves anything in the temporary folder (test/tmp-guard.ts).
        globalSetup: ["test/tmp-guard.ts"],
        include: ["core/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts", "lab/**/*.test.ts", "compare/**/*.test.ts", "policy/**/*.test.ts", "render/**/*.test.ts"],
        // Pulumi mocks are process-global: each test file runs in its own fork.
        pool: "forks",
        testTimeout: 60_000,
        hookTimeout: 120_000,
    },
});
