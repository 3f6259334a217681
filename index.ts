/**
 * One comparison cluster: two identical nodes, k3s, the stack's pod network, the guestbook and
 * a load balancer, plus an optional load generator beside the nodes. Config is read here only.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CalicoNetwork } from "./components/calicoNetwork";
import { CiliumNetwork } from "./components/ciliumNetwork";
import { K3sCluster } from "./components/k3sCluster";
import { LoadGenerator } from "./components/loadGenerator";
import { ec2NicMtu, frontendPortOnNodes, guestbookMtu, podMtu } from "./components/modes";
import { NodePair, sshUser as loginUser, ubuntuRelease } from "./components/nodePair";
import { nodeNames } from "./components/nodeScripts";
import { NodePortLoadBalancer } from "./components/nodePortLoadBalancer";
import { readSettings } from "./components/settings";
import { ExtraServices } from "./workloads/extraServices";
import { Guestbook } from "./workloads/guestbook";

const settings = readSettings();
const { mode, facts } = settings;
// Named after the stack: a stack file per mode is named after its mode, and the Service-proxy
// variants (stacks/Pulumi.vxlan-nftables.yaml) keep their own names.
const prefix = `cni-${pulumi.getStack()}`;
// Where the frontends answer on every node: the NodePort, or a baseline's host or published port.
const frontendPort = frontendPortOnNodes(mode, settings.nodePort);

// No key configured: generate one; its private half is exported only as a secret.
const generatedKey = settings.sshPublicKey === undefined ? new tls.PrivateKey(`${prefix}-ssh`, { algorithm: "ED25519" }) : undefined;
const privateKey = generatedKey ? pulumi.secret(generatedKey.privateKeyOpenssh) : undefined;

// The load generator is built on the pair's subnet, and the pair's security group admits its
// public address (components/nodePair.ts nodeIngressRules): the address reaches the pair as a
// deferred output, resolved below once the load generator exists (@pulumi/pulumi deferredOutput,
// pulumi/pulumi#17793).
const [loadGeneratorPublicIp, resolveLoadGeneratorPublicIp] = pulumi.deferredOutput<string>();
const pair = new NodePair(prefix, {
    mode,
    instanceType: settings.instanceType,
    vpcCidr: settings.vpcCidr,
    subnetCidr: settings.subnetCidr,
    podCidr: settings.podCidr,
    operatorCidr: settings.operatorCidr,
    nodePort: settings.nodePort,
    sshPublicKey: generatedKey ? generatedKey.publicKeyOpenssh : settings.sshPublicKey!,
    spot: settings.spot,
    loadGeneratorPublicIp: settings.loadGenerator ? loadGeneratorPublicIp : undefined,
});

const cluster = new K3sCluster(prefix, {
    facts,
    serviceProxy: settings.serviceProxy,
    k3sVersion: settings.k3sVersion,
    podCidr: settings.podCidr,
    server: pair.server,
    agent: pair.agent,
    sshPrivateKey: privateKey,
});

const calico = facts.calico
    ? new CalicoNetwork(`${prefix}-calico`, {
          facts,
          calicoVersion: settings.calicoVersion,
          podCidr: settings.podCidr,
          mtu: podMtu(mode),
          nodeSubnetCidr: settings.subnetCidr,
          inCluster: cluster.inCluster,
          dependsOn: [cluster.agentInstall],
      })
    : undefined;
const cilium = facts.cilium
    ? new CiliumNetwork(`${prefix}-cilium`, {
          facts,
          ciliumVersion: settings.ciliumVersion,
          podCidr: settings.podCidr,
          nodeMtu: ec2NicMtu,
          apiServerHost: pair.server.instance.privateIp,
          inCluster: cluster.inCluster,
          dependsOn: [cluster.agentInstall],
      })
    : undefined;
const podNetwork = calico ?? cilium;
const nodesReady = cluster.waitForReadyNodes(`${prefix}-nodes-ready`, podNetwork ? [podNetwork] : []);

new Guestbook(
    "guestbook",
    {
        attachment: facts.guestbook,
        images: settings.images,
        frontendReplicas: settings.frontendReplicas,
        redisFollowerReplicas: settings.redisFollowerReplicas,
        nodePort: settings.nodePort,
        redisNodes: {
            leader: { name: nodeNames.server, address: pair.server.instance.privateIp },
            follower: { name: nodeNames.agent, address: pair.agent.instance.privateIp },
        },
        inCluster: cluster.inCluster,
    },
    { dependsOn: [nodesReady] },
);

// The Service-proxy axis (issue 23): `services` extra Services, each with endpoints, in bulk.
new ExtraServices(`${prefix}-extra-services`, {
    count: settings.services,
    image: settings.images.frontend,
    server: pair.server,
    sshPrivateKey: privateKey,
    inCluster: cluster.inCluster,
    dependsOn: [nodesReady],
});

const loadBalancer = new NodePortLoadBalancer(prefix, {
    vpcId: pair.vpc.id,
    subnetId: pair.subnet.id,
    internetRoute: pair.internetRoute,
    instanceIds: [pair.server.instance.id, pair.agent.instance.id],
    frontendPort,
    certificateArn: settings.certificateArn,
});

const loadGen = settings.loadGenerator
    ? new LoadGenerator(`${prefix}-loadgen`, {
          nodePair: pair,
          instanceType: settings.instanceType,
          operatorCidr: settings.operatorCidr,
          spot: settings.spot,
          sshPrivateKey: privateKey,
      })
    : undefined;
if (loadGen) resolveLoadGeneratorPublicIp(loadGen.instance.publicIp);

// Outputs: the shape of StackOutputs in bench/targets.ts, which the benchmark runner reads.
export { mode };
export const endpoint = loadBalancer.url;
/** The port the frontends answer on at every node (what the NLB targets): the NodePort in the
 * pod-network modes, the host or published port in the baselines, like the lab's targets. */
export const nodePort = frontendPort;
/** How the frontends are reached on each node, how many run, and the MTU they send with. */
export const frontends = {
    port: frontendPort,
    attachment: facts.guestbook.kind,
    // The baselines run a DaemonSet: one frontend on each node.
    replicas: facts.guestbook.kind === "pod-network" ? settings.frontendReplicas : Object.keys(nodeNames).length,
    mtu: guestbookMtu(mode),
};
export const nodes = [pair.server, pair.agent].map(({ role, instance }) => ({
    name: nodeNames[role],
    role,
    instanceId: instance.id,
    privateIp: instance.privateIp,
    publicIp: instance.publicIp,
    instanceType: instance.instanceType,
    availabilityZone: instance.availabilityZone,
    sshHostKey: cluster.hostKeys[role],
}));
export const podCidr = settings.podCidr;
/** Who implements Services on the nodes (iptables | nftables | ebpf), and how many extra Services
 * the stack made at `up` (the runner may change the count; it reads back what is installed). */
export const serviceProxy = settings.serviceProxy;
export const services = settings.services;
export const mtu = { node: ec2NicMtu, pod: podMtu(mode) };
export const versions = {
    k3s: settings.k3sVersion,
    cni: facts.plugin,
    cniVersion: { calico: settings.calicoVersion, cilium: settings.ciliumVersion, flannel: `bundled with k3s ${settings.k3sVersion}` }[facts.plugin],
    ubuntu: ubuntuRelease,
};
export const kubeconfig = cluster.kubeconfig;
export const sshUser = loginUser;
export const sshPrivateKey = privateKey;
export const loadGenerator = loadGen ? { publicIp: loadGen.instance.publicIp, privateIp: loadGen.instance.privateIp, sshHostKey: loadGen.hostKey } : undefined;
