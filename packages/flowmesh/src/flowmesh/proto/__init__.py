"""The FlowMesh wire protocol (package ``flowmesh.v1``) and its generated Python code."""
