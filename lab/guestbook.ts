/**
 * The guestbook on the lab's namespaces: Redis leader and follower (Debian's redis-server, the
 * follower replicating the leader with --replicaof) and the PHP frontend (guestbook/guestbook.php,
 * same HTTP API as the upstream gb-frontend image) on PHP's built-in server with several workers.
 * Pure: topology in, command lines and environments out.
 */
import { join } from "node:path";
import type { LabTopology, LabWorkload } from "./topology";

/** Folder served by the frontend (holds guestbook.php). */
export const frontendDocroot = join(__dirname, "guestbook");

/** The lab's default PHP workers per frontend: enough to keep wrk's connections busy on a 2-core machine. */
export const defaultFrontendWorkers = 4;

export interface ProcessSpec {
    readonly workload: LabWorkload;
    readonly argv: readonly string[];
    readonly env: Record<string, string>;
    /** File name (under the run directory) that collects its output. */
    readonly log: string;
}

/** Redis as the guestbook uses it: no persistence (the images run without a volume), no protected mode. */
function redisArgv(w: LabWorkload, dir: string, replicaOf?: { ip: string; port: number }): string[] {
    return [
        "redis-server",
        "--bind", w.ip,
        "--port", String(w.port),
        "--protected-mode", "no",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", dir,
        // Redis 7 waits 5 s for more replicas before a diskless full sync; there is one follower.
        "--repl-diskless-sync-delay", "0",
        ...(replicaOf ? ["--replicaof", replicaOf.ip, String(replicaOf.port)] : []),
    ];
}

/** Every guestbook process of a topology, leader first (the follower needs it to replicate). */
export function guestbookProcesses(t: LabTopology, runDir: string, frontendWorkers = defaultFrontendWorkers): ProcessSpec[] {
    if (!Number.isInteger(frontendWorkers) || frontendWorkers < 1 || frontendWorkers > 64) {
        throw new Error(`--workers: ${frontendWorkers} must be a whole number from 1 to 64`);
    }
    const order: Record<LabWorkload["role"], number> = { "redis-leader": 0, "redis-follower": 1, frontend: 2 };
    const log = (w: LabWorkload) => `${t.mode}-node${w.node + 1}-${w.name}.log`;
    return [...t.workloads]
        .sort((a, b) => order[a.role] - order[b.role])
        .map((w): ProcessSpec => {
            switch (w.role) {
                case "redis-leader":
                    return { workload: w, argv: redisArgv(w, runDir), env: {}, log: log(w) };
                case "redis-follower":
                    return { workload: w, argv: redisArgv(w, runDir, t.redis.leader), env: {}, log: log(w) };
                case "frontend":
                    return {
                        workload: w,
                        // -q: no per-request log line (it would cost CPU and disk under load).
                        argv: ["php", "-q", "-S", `${w.ip}:${w.port}`, "-t", frontendDocroot],
                        // The upstream frontend's GET_HOSTS_FROM=env variables (Kubernetes Service env vars).
                        env: {
                            PHP_CLI_SERVER_WORKERS: String(frontendWorkers),
                            GET_HOSTS_FROM: "env",
                            REDIS_LEADER_SERVICE_HOST: t.redis.leader.ip,
                            REDIS_LEADER_SERVICE_PORT: String(t.redis.leader.port),
                            REDIS_FOLLOWER_SERVICE_HOST: t.redis.follower.ip,
                            REDIS_FOLLOWER_SERVICE_PORT: String(t.redis.follower.port),
                        },
                        log: log(w),
                    };
            }
        });
}

/** Each node's frontend URL as the load generator reaches it (NodePort, or the published port). */
export function frontendUrls(t: LabTopology): string[] {
    return t.nodes.map((n) => `http://${n.ip}:${t.servicePort}`);
}
