// The encapsulated modes and the Docker-bridge baseline (the suite: test/lab/securityGroupSuite.ts).
import { securityGroupSuite } from "../test/lab/securityGroupSuite";

securityGroupSuite(["vxlan", "calico-vxlan", "bridge"]);
