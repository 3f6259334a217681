/**
 * The CrossGuard policy pack: registers the pure rules of policy/rules.ts with the Pulumi
 * policy engine. `new PolicyPack` starts the analyzer's gRPC server, so this file is loaded
 * only by Pulumi (`pulumi preview --policy-pack policy`); tests import rules.ts instead.
 */
import * as pulumi from "@pulumi/pulumi";
import { PolicyPack, type PolicyResource } from "@pulumi/policy";
import { readProject } from "../components/project";
import { knownValues } from "./previewValues";
import { resourceRules, stackRules, type PolicyResourceView } from "./rules";

/** Pulumi's project name, from Pulumi.yaml (components/project.ts, the one reader of it): the stack
 * config the engine passes is read under it. */
const projectName = readProject().name;

function view(resource: Pick<PolicyResource, "type" | "name" | "urn" | "props">): PolicyResourceView {
    return { type: resource.type, name: resource.name, urn: resource.urn, props: knownValues(resource.props) as Record<string, unknown> };
}

/** The engine hands the policy process the stack's config and name (PULUMI_CONFIG, PULUMI_NODEJS_STACK). */
function stackContext(): { configuredMode?: string; stackName?: string } {
    return { configuredMode: new pulumi.Config(projectName).get("mode"), stackName: pulumi.getStack() || undefined };
}

new PolicyPack("cni-compare", {
    enforcementLevel: "mandatory",
    policies: [
        ...resourceRules.map((rule) => ({
            name: rule.name,
            description: rule.description,
            validateResource: (args: { type: string; name: string; urn: string; props: Record<string, any> }, reportViolation: (message: string) => void) => {
                const resource = view(args);
                for (const message of rule.check(resource.type, resource.props, resource.name)) reportViolation(`${resource.name}: ${message}`);
            },
        })),
        ...stackRules.map((rule) => ({
            name: rule.name,
            description: rule.description,
            validateStack: (args: { resources: PolicyResource[] }, reportViolation: (message: string, urn?: string) => void) => {
                const resources = args.resources.map(view);
                for (const violation of rule.check(resources, stackContext())) {
                    reportViolation(violation.name ? `${violation.name}: ${violation.message}` : violation.message, violation.urn);
                }
            },
        })),
    ],
});
