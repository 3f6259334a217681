// The routed modes and the plain-VM baseline (the suite: test/lab/securityGroupSuite.ts).
import { securityGroupSuite } from "../test/lab/securityGroupSuite";

securityGroupSuite(["host-gw", "calico", "host"]);
