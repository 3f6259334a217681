/**
 * The guestbook on the lab's namespaces: Redis leader and follower (Debian's redis-server, the
 * follower replicating the leader with --replicaof) and the PHP frontend (guestbook/guestbook.php,
 * same HTTP API as the upstream gb-frontend image) served the way that image serves it: Apache
 * httpd with mod_php under the prefork MPM, HTTP keep-alive on (the upstream image is
 * php:5-apache; kubernetes/examples guestbook/php-redis/Dockerfile). One Apache per frontend,
 * with its own config file in the run directory.
 * Pure: topology in, command lines, config files and environments out.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { labPrefix, type LabTopology, type LabWorkload } from "./topology";

/** The guestbook's source files in the project (guestbook.php, index.html). */
export const frontendDocroot = join(__dirname, "guestbook");

/**
 * Where a run's frontends serve a copy of those files from. Apache's children run as www-data,
 * which must be able to traverse every folder above the document root; a clone (or a test's
 * ledger folder) may sit under a 0700 directory, so the copy lives in /run (root-owned, 0755),
 * named after the run so the run's cleanup removes it (lab/ledger.ts removeResources).
 */
export function servedDocroot(runId: string): string {
    return `/run/${labPrefix}-${runId}-www`;
}

/** The files a run's document root holds: name → content, copied from frontendDocroot. */
export function docrootFiles(docroot: string): Record<string, string> {
    return Object.fromEntries(readdirSync(frontendDocroot).map((name) => [join(docroot, name), readFileSync(join(frontendDocroot, name), "utf8")]));
}

/**
 * Apache prefork children per frontend. A keep-alive connection holds one child, so a frontend
 * needs at least as many children as connections can reach it: the lab's wrk opens
 * `labHttpConnections`, split at random between the two frontends by the NodePort rule, so
 * at most all of them reach one.
 */
export const defaultFrontendWorkers = 16;

/** wrk connections in the lab's HTTP runs (lab/cli.ts passes it to the runner). */
export const labHttpConnections = 16;

export interface ProcessSpec {
    readonly workload: LabWorkload;
    readonly argv: readonly string[];
    readonly env: Record<string, string>;
    /** File name (under the run directory) that collects its output. */
    readonly log: string;
    /** Files to write (absolute path → text) before it starts. */
    readonly files?: Readonly<Record<string, string>>;
}

/** Debian's Apache module folder (apache2-bin) and the mod_php file libapache2-mod-php puts there. */
export const apacheModuleDir = "/usr/lib/apache2/modules";
export function findPhpModule(dir = apacheModuleDir): string {
    const found = readdirSync(dir).find((f) => /^libphp[\d.]*\.so$/.test(f));
    if (!found) throw new Error(`no mod_php (libphp*.so) in ${dir}: install libapache2-mod-php (sudo npm run lab:deps)`);
    return join(dir, found);
}

/**
 * The frontend's Apache config. Directives from the Apache 2.4 manual (core, mpm_prefork,
 * mod_authz_core, mod_env, mod_dir); keep-alive settings are Debian's apache2.conf defaults
 * (KeepAlive On, MaxKeepAliveRequests 100, KeepAliveTimeout 5), as the upstream image runs them.
 */
export function apacheConfig(t: LabTopology, w: LabWorkload, runDir: string, workers: number, phpModule: string): string {
    const base = join(runDir, `${t.name}-node${w.node + 1}-${w.name}-apache`);
    const module = (name: string, file: string) => `LoadModule ${name} ${join(apacheModuleDir, file)}`;
    return [
        `ServerName ${w.ip}`,
        `ServerRoot ${runDir}`,
        `PidFile ${base}.pid`,
        `DefaultRuntimeDir ${runDir}`,
        `Mutex file:${runDir} default`,
        `ErrorLog ${base}-error.log`,
        `LogLevel warn`,
        module("mpm_prefork_module", "mod_mpm_prefork.so"),
        module("authz_core_module", "mod_authz_core.so"),
        module("env_module", "mod_env.so"),
        module("dir_module", "mod_dir.so"),
        `LoadModule php_module ${phpModule}`,
        // Children serve as www-data, as Debian's apache2 does (envvars: APACHE_RUN_USER).
        "User www-data",
        "Group www-data",
        `Listen ${w.ip}:${w.port}`,
        `StartServers ${workers}`,
        `MinSpareServers ${workers}`,
        `MaxSpareServers ${workers}`,
        `ServerLimit ${workers}`,
        `MaxRequestWorkers ${workers}`,
        "MaxConnectionsPerChild 0",
        "KeepAlive On",
        "MaxKeepAliveRequests 100",
        "KeepAliveTimeout 5",
        `DocumentRoot ${servedDocroot(t.runId)}`,
        `<Directory ${servedDocroot(t.runId)}>`,
        "    Require all granted",
        "</Directory>",
        "DirectoryIndex index.html",
        '<FilesMatch "\\.php$">',
        "    SetHandler application/x-httpd-php",
        "</FilesMatch>",
        // The upstream frontend's GET_HOSTS_FROM=env variables (Kubernetes Service env vars).
        "SetEnv GET_HOSTS_FROM env",
        `SetEnv REDIS_LEADER_SERVICE_HOST ${t.redis.leader.ip}`,
        `SetEnv REDIS_LEADER_SERVICE_PORT ${t.redis.leader.port}`,
        `SetEnv REDIS_FOLLOWER_SERVICE_HOST ${t.redis.follower.ip}`,
        `SetEnv REDIS_FOLLOWER_SERVICE_PORT ${t.redis.follower.port}`,
        "",
    ].join("\n");
}

/** Redis as the guestbook uses it: no persistence (the images run without a volume), no protected mode. */
function redisArgv(w: LabWorkload, dir: string, replicaOf?: { ip: string; port: number }): string[] {
    return [
        "redis-server",
        "--bind",
        w.ip,
        "--port",
        String(w.port),
        "--protected-mode",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        dir,
        // Redis 7 waits 5 s for more replicas before a diskless full sync; there is one follower.
        "--repl-diskless-sync-delay",
        "0",
        ...(replicaOf ? ["--replicaof", replicaOf.ip, String(replicaOf.port)] : []),
    ];
}

/** Every guestbook process of a topology, leader first (the follower needs it to replicate). */
export function guestbookProcesses(t: LabTopology, runDir: string, frontendWorkers = defaultFrontendWorkers, phpModule = join(apacheModuleDir, "libphp.so")): ProcessSpec[] {
    if (!Number.isInteger(frontendWorkers) || frontendWorkers < 1 || frontendWorkers > 64) {
        throw new Error(`--workers: ${frontendWorkers} must be a whole number from 1 to 64`);
    }
    const order: Record<LabWorkload["role"], number> = { "redis-leader": 0, "redis-follower": 1, frontend: 2 };
    const log = (w: LabWorkload) => `${t.name}-node${w.node + 1}-${w.name}.log`;
    return [...t.workloads]
        .sort((a, b) => order[a.role] - order[b.role])
        .map((w): ProcessSpec => {
            switch (w.role) {
                case "redis-leader":
                    return { workload: w, argv: redisArgv(w, runDir), env: {}, log: log(w) };
                case "redis-follower":
                    return { workload: w, argv: redisArgv(w, runDir, t.redis.leader), env: {}, log: log(w) };
                case "frontend": {
                    const config = join(runDir, `${t.name}-node${w.node + 1}-${w.name}-apache.conf`);
                    return {
                        workload: w,
                        // -X would serve from one process; the prefork parent stays in the foreground instead.
                        argv: ["apache2", "-f", config, "-D", "FOREGROUND"],
                        env: {},
                        log: log(w),
                        files: { [config]: apacheConfig(t, w, runDir, frontendWorkers, phpModule), ...docrootFiles(servedDocroot(t.runId)) },
                    };
                }
            }
        });
}

/** Each node's frontend URL as the load generator reaches it (NodePort, or the published port). */
export function frontendUrls(t: LabTopology): string[] {
    return t.nodes.map((n) => `http://${n.ip}:${t.servicePort}`);
}
