import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ModeFacts } from "./modes";
import type { ServiceProxyMode } from "./serviceProxy";
import type { Node } from "./nodePair";
import { sshUser } from "./nodePair";
import { k3sAgentScript, k3sServerScript, nodeNames, nodeReadyTimeoutSeconds, readHostKeyScript, readKubeconfigScript, runAsRoot, waitForNodesScript } from "./nodeScripts";

/** SSH retries while an instance boots: bounded, so a host that never comes up fails `up`. */
export const sshDialErrorLimit = 30;
export const sshPerDialTimeoutSeconds = 10;

/** Without a private key (the operator supplied only a public one) the provider uses ssh-agent. */
export function sshConnection(host: pulumi.Input<string>, privateKey: pulumi.Input<string> | undefined): command.types.input.remote.ConnectionArgs {
    return { host, user: sshUser, privateKey, dialErrorLimit: sshDialErrorLimit, perDialTimeout: sshPerDialTimeoutSeconds };
}

/**
 * Reads an instance's SSH host key at first contact. Pulumi's own SSH connections do not verify
 * host keys, so this is trust on first use; the key is exported so that every later connection
 * (the benchmark runner) pins it.
 */
export function recordHostKey(
    name: string,
    host: pulumi.Input<string>,
    instanceId: pulumi.Input<string>,
    privateKey: pulumi.Input<string> | undefined,
    parent: pulumi.Resource,
): pulumi.Output<string> {
    const read = new command.remote.Command(
        name,
        {
            connection: sshConnection(host, privateKey),
            create: runAsRoot(readHostKeyScript),
            triggers: [instanceId],
        },
        { parent },
    );
    return read.stdout.apply((line) => line.trim());
}

/**
 * How every object inside the cluster is declared: through the cluster's provider, and deleted with
 * the server instance. Terminating the server ends the cluster (API server and datastore live on
 * its root volume, deleted on termination), so `destroy` skips their one-by-one deletes (Pulumi
 * docs, resource option deletedWith: "if you are deleting a Kubernetes cluster …") and no Helm
 * uninstall or Calico finalizer can hold it. Only for objects that own nothing outside the cluster.
 */
export interface InCluster {
    readonly provider: k8s.Provider;
    readonly deletedWith: pulumi.Resource;
}

export interface K3sClusterArgs {
    readonly facts: ModeFacts;
    /** Who implements Services: kube-proxy's mode, or Cilium's eBPF (k3s then runs no kube-proxy). */
    readonly serviceProxy: ServiceProxyMode;
    readonly k3sVersion: string;
    readonly podCidr: string;
    readonly server: Node;
    readonly agent: Node;
    /** Secret: the private half of the instances' key pair; undefined means ssh-agent. */
    readonly sshPrivateKey?: pulumi.Input<string>;
}

/**
 * k3s on the node pair: the server on node 1, the agent on node 2, the same pinned version, a
 * random cluster token. Exposes the admin kubeconfig (secret, server URL rewritten to the
 * server's public address) and a Kubernetes provider built from it.
 */
export class K3sCluster extends pulumi.ComponentResource {
    public readonly kubeconfig: pulumi.Output<string>;
    public readonly provider: k8s.Provider;
    /** The options of every object inside the cluster (see InCluster). */
    public readonly inCluster: InCluster;
    public readonly serverInstall: command.remote.Command;
    public readonly agentInstall: command.remote.Command;
    /** Each node's SSH host key line ("ssh-ed25519 AAAA…"), read at first contact. */
    public readonly hostKeys: { readonly server: pulumi.Output<string>; readonly agent: pulumi.Output<string> };
    private readonly sshPrivateKey?: pulumi.Input<string>;
    private readonly serverInstance: Node["instance"];

    constructor(name: string, args: K3sClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cni-compare:k3s:K3sCluster", name, {}, opts);
        this.sshPrivateKey = args.sshPrivateKey;
        this.serverInstance = args.server.instance;
        const server = args.server.instance;
        const agent = args.agent.instance;

        this.hostKeys = {
            server: recordHostKey(`${name}-server-host-key`, server.publicIp, server.id, args.sshPrivateKey, this),
            agent: recordHostKey(`${name}-agent-host-key`, agent.publicIp, agent.id, args.sshPrivateKey, this),
        };

        // The token reaches the nodes only on standard input. RandomPassword marks its result
        // secret in the engine; wrapping it again keeps it secret wherever this code is evaluated.
        const token = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent: this });
        const tokenLine = pulumi.secret(pulumi.interpolate`${token.result}\n`);

        this.serverInstall = this.installServer(name, args, tokenLine);
        this.agentInstall = this.installAgent(name, args, tokenLine);
        this.kubeconfig = this.readKubeconfig(name, args);

        this.provider = new k8s.Provider(
            `${name}-k8s`,
            {
                kubeconfig: this.kubeconfig,
                // When in-cluster objects are deleted without the server (a `--target` destroy, an object
                // dropped from the program) and the nodes are already gone, drop them from state instead
                // of failing.
                deleteUnreachable: true,
            },
            { parent: this },
        );
        this.inCluster = { provider: this.provider, deletedWith: server };
        this.registerOutputs({ kubeconfig: this.kubeconfig });
    }

    private installServer(name: string, args: K3sClusterArgs, tokenLine: pulumi.Output<string>): command.remote.Command {
        const server = args.server.instance;
        const serverScript = pulumi.all([server.privateIp, server.publicIp]).apply(([nodeIp, publicIp]) =>
            k3sServerScript({
                k3sVersion: args.k3sVersion,
                nodeName: nodeNames.server,
                nodeIp,
                publicIp,
                facts: args.facts,
                serviceProxy: args.serviceProxy,
                podCidr: args.podCidr,
            }),
        );
        return new command.remote.Command(
            `${name}-server-install`,
            {
                connection: sshConnection(server.publicIp, args.sshPrivateKey),
                create: serverScript.apply(runAsRoot),
                stdin: tokenLine,
                triggers: [server.id],
            },
            { parent: this },
        );
    }

    private installAgent(name: string, args: K3sClusterArgs, tokenLine: pulumi.Output<string>): command.remote.Command {
        const server = args.server.instance;
        const agent = args.agent.instance;
        const agentScript = pulumi
            .all([agent.privateIp, server.privateIp])
            .apply(([nodeIp, serverIp]) => k3sAgentScript({ k3sVersion: args.k3sVersion, nodeName: nodeNames.agent, nodeIp, serverIp, facts: args.facts, serviceProxy: args.serviceProxy }));
        // Beside the server's install, not after it: the agent needs only the pre-shared token and
        // the server's address, and k3s's agent retries until the server answers (k3s
        // pkg/agent/config/config.go, Get: "Waiting to retrieve agent configuration; server is not
        // ready"). Serialised, its apt and k3s download added 1-2 minutes to every `up`.
        return new command.remote.Command(
            `${name}-agent-install`,
            {
                connection: sshConnection(agent.publicIp, args.sshPrivateKey),
                create: agentScript.apply(runAsRoot),
                stdin: tokenLine,
                triggers: [agent.id, server.id],
            },
            { parent: this },
        );
    }

    private readKubeconfig(name: string, args: K3sClusterArgs): pulumi.Output<string> {
        const server = args.server.instance;
        // The kubeconfig holds cluster-admin credentials: never logged, secret in state.
        const kubeconfigRead = new command.remote.Command(
            `${name}-kubeconfig`,
            {
                connection: sshConnection(server.publicIp, args.sshPrivateKey),
                create: runAsRoot(readKubeconfigScript),
                logging: "none",
                triggers: [server.id],
            },
            { parent: this, dependsOn: [this.serverInstall], additionalSecretOutputs: ["stdout"] },
        );
        return pulumi.secret(pulumi.all([kubeconfigRead.stdout, server.publicIp]).apply(([text, publicIp]) => publicKubeconfig(text, publicIp)));
    }

    /**
     * A bounded wait until both nodes are Ready, after whatever installs the pod network
     * (`after`): with --flannel-backend=none nodes stay NotReady until Calico runs.
     */
    public waitForReadyNodes(name: string, after: pulumi.Input<pulumi.Resource>[]): command.remote.Command {
        return new command.remote.Command(
            name,
            {
                connection: sshConnection(this.serverInstance.publicIp, this.sshPrivateKey),
                create: runAsRoot(waitForNodesScript([nodeNames.server, nodeNames.agent], nodeReadyTimeoutSeconds)),
                triggers: [this.serverInstance.id],
            },
            { parent: this, dependsOn: [this.agentInstall, ...after] },
        );
    }
}

/** k3s writes its kubeconfig for https://127.0.0.1:6443; the operator reaches the public address. */
export function publicKubeconfig(kubeconfig: string, publicIp: string): string {
    if (!kubeconfig.includes("https://127.0.0.1:6443")) {
        throw new Error("k3s kubeconfig does not name https://127.0.0.1:6443; cannot point it at the server's public address");
    }
    return kubeconfig.replace("https://127.0.0.1:6443", `https://${publicIp}:6443`);
}
