/**
 * The order `up` creates and `destroy` deletes in, read from the rendered snapshots
 * (snapshots/<stack>/resources.yaml; render/snapshot.test.ts keeps them equal to the program).
 * An edge is a `dependsOn` entry or a parent: a child registers only after its parent, which
 * waits for its own dependencies. Issue #19, defect 1 and "make up and destroy what the plan says".
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { projectDir, stackNames } from "../components/project";

interface Snapshot {
    type: string;
    name: string;
    parent?: string;
    dependsOn?: string[];
    deletedWith?: string;
    inputs: Record<string, any>;
}

function readGraph(stack: string) {
    const file = path.join(projectDir, "snapshots", stack, "resources.yaml");
    const resources = (parse(readFileSync(file, "utf8")) as { resources: Snapshot[] }).resources;
    const byKey = new Map(resources.map((r) => [`${r.type}::${r.name}`, r]));
    const key = (r: Snapshot) => `${r.type}::${r.name}`;
    const one = (type: string, suffix = ""): Snapshot => {
        const found = resources.filter((r) => r.type === type && r.name.endsWith(suffix));
        expect(found.map(key), `exactly one ${type} named …${suffix} in ${stack}`).toHaveLength(1);
        return found[0];
    };
    /** Every resource `from` waits for before it is created, directly or through others. */
    const waitsFor = (from: Snapshot): Set<string> => {
        const seen = new Set<string>();
        const queue = [...(from.dependsOn ?? []), ...(from.parent ? [from.parent] : [])];
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
            if (seen.has(next)) continue;
            seen.add(next);
            const r = byKey.get(next);
            if (r) queue.push(...(r.dependsOn ?? []), ...(r.parent ? [r.parent] : []));
        }
        return seen;
    };
    return { resources, key, one, waitsFor };
}

const INSTANCE = "aws:ec2/instance:Instance";
const COMMAND = "command:remote:Command";

describe.each(stackNames())("stack %s", (stack) => {
    const g = () => readGraph(stack);

    // ELB API reference, CreateLoadBalancer / AttachLoadBalancerToSubnets, error InvalidSubnet:
    // "The specified VPC has no associated Internet gateway" (AWS answers "InvalidSubnet: VPC …
    // has no internet gateway" for an internet-facing NLB created before the gateway is attached).
    // The route table association is what makes the subnet route to the gateway; it waits for the
    // route table, which waits for the gateway. At destroy the same edge makes the gateway detach
    // only after the NLB and its public addresses are gone, instead of retrying on
    // DependencyViolation (EC2 API reference, DetachInternetGateway: "The VPC must not contain any
    // running instances with Elastic IP addresses or public IPv4 addresses").
    it("the internet-facing NLB waits for the subnet's route to the internet gateway", () => {
        const { one, key, waitsFor } = g();
        const nlb = one("aws:lb/loadBalancer:LoadBalancer");
        const before = waitsFor(nlb);
        expect(before, "NLB does not wait for the subnet's route table association").toContain(key(one("aws:ec2/routeTableAssociation:RouteTableAssociation")));
        expect(before, "NLB does not wait for the internet gateway").toContain(key(one("aws:ec2/internetGateway:InternetGateway")));
    });

    // Every instance is reached over SSH at its public address right after launch, and cloud-init
    // and apt need the way out: the route must exist first (VPC user guide, "Enable internet access
    // for a VPC using an internet gateway": the subnet's route table routes to the gateway).
    it("every instance (nodes and load generator) waits for the subnet's route to the internet gateway", () => {
        const { resources, one, key, waitsFor } = g();
        const association = key(one("aws:ec2/routeTableAssociation:RouteTableAssociation"));
        const instances = resources.filter((r) => r.type === INSTANCE);
        expect(instances.map((i) => i.inputs.tags.role).sort()).toEqual(["agent", "loadgen", "server"]);
        for (const instance of instances) expect(waitsFor(instance), `${instance.name} starts before its subnet routes to the gateway`).toContain(association);
    });

    // Pulumi docs, resource option deletedWith: the provider's delete is skipped when the named
    // resource is deleted in the same operation, "if you are deleting a Kubernetes cluster ... skipping
    // delete on any Pulumi managed resources created in that Kubernetes cluster". Terminating the
    // server ends the cluster: its API server and datastore live on the server's root volume, which
    // is deleted on termination (hardenedInstanceArgs). So no Helm uninstall or Calico finalizer can
    // hold `destroy`.
    it("every in-cluster object is deletedWith the server instance, and nothing outside the cluster is", () => {
        const { resources, one, key } = g();
        const server = key(one(INSTANCE, "-server"));
        const inCluster = resources.filter((r) => r.type.startsWith("kubernetes:"));
        expect(inCluster.length).toBeGreaterThan(0);
        for (const r of inCluster) expect(r.deletedWith, `${key(r)} is deleted one by one before the instances`).toBe(server);
        // Whatever AWS bills (instances, NLB, VPC, security groups) must still be deleted by destroy.
        for (const r of resources.filter((r) => !r.type.startsWith("kubernetes:"))) expect(r.deletedWith, `${key(r)} would be left behind`).toBeUndefined();
    });

    // Skipping the in-cluster deletes is safe only while nothing in the cluster owns a resource
    // outside it: a Service of type LoadBalancer or a PersistentVolumeClaim would, through a cloud
    // controller or a CSI driver (Kubernetes docs, Service type LoadBalancer; PersistentVolumes).
    it("nothing in the cluster owns a billed resource outside it", () => {
        const { resources } = g();
        const types = new Set(resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => r.type));
        expect([...types].filter((t) => /PersistentVolume|StatefulSet/.test(t))).toEqual([]);
        for (const service of resources.filter((r) => r.type === "kubernetes:core/v1:Service")) expect(service.inputs.spec.type).not.toBe("LoadBalancer");
    });

    // The agent joins with the pre-shared token at the server's private address; k3s's agent retries
    // until the server answers (k3s pkg/agent/config/config.go, Get: "Waiting to retrieve agent
    // configuration; server is not ready", jittered 5-10 s), so its install runs beside the server's.
    it("the agent's install waits only for the two instances, the token and the SSH key, not for the server's install", () => {
        const { resources, one, key } = g();
        const agentInstall = one(COMMAND, "-agent-install");
        const allowed = new Set([
            key(one(INSTANCE, "-server")), // its private address is the join URL; its id a trigger
            key(one(INSTANCE, "-agent")),
            key(one("random:index/randomPassword:RandomPassword", "-token")),
            ...resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey").map(key),
        ]);
        expect(
            (agentInstall.dependsOn ?? []).filter((d) => !allowed.has(d)),
            "the agent's install waits for more than it needs",
        ).toEqual([]);
        expect(agentInstall.parent?.startsWith("cni-compare:k3s:K3sCluster::"), "a parent with dependencies would delay it").toBe(true);
        expect(agentInstall.dependsOn).toContain(key(one(INSTANCE, "-server")));
    });

    // @pulumi/kubernetes waits for each Deployment's rollout (and a Service's endpoints) before it
    // counts as created; a dependsOn chain makes those waits add up. Nothing needs the chain: a Redis
    // replica keeps retrying its master (redis.conf, REPLICATION: "replicas automatically try to
    // reconnect to masters"), and the frontend's PHP connects to Redis per request (kubernetes/examples
    // guestbook/php-redis/guestbook.php).
    it("the guestbook's workloads are created side by side, none waiting for another", () => {
        const { resources, key, waitsFor } = g();
        const workloads = resources.filter((r) => (r.type === "kubernetes:apps/v1:Deployment" || r.type === "kubernetes:apps/v1:DaemonSet") && !r.parent?.includes("ExtraServices"));
        expect(workloads.map((w) => w.inputs.metadata.name).sort()).toEqual(["frontend", "redis-follower", "redis-leader"]);
        const related = (r: Snapshot) => [key(r), ...resources.filter((s) => s.parent === r.parent && r.parent?.includes("ServiceDeployment")).map(key)];
        for (const workload of workloads) {
            const before = waitsFor(workload);
            for (const other of workloads.filter((w) => w !== workload)) {
                for (const peer of related(other)) expect(before.has(peer), `${key(workload)} waits for ${peer}`).toBe(false);
            }
        }
    });
});
