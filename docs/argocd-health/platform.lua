-- Argo CD health check for picotls.dev/Platform (resource.customizations.health.picotls.dev_Platform).
-- Reads the conditions the operator writes as kstatus defines them: Stalled=True -> Degraded
-- (the message says what to fix), Reconciling=True -> Progressing (CA rotation and client-auth
-- phases included), Ready=True -> Healthy.
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for the operator to act on the latest spec"
  return hs
end
local found = {}
for _, condition in ipairs(obj.status.conditions) do
  found[condition.type] = condition
end
local phase = ""
if obj.status.caRotation ~= nil and obj.status.caRotation.phase ~= nil then
  phase = " (CA rotation: " .. obj.status.caRotation.phase .. ")"
elseif obj.status.clientAuth ~= nil and obj.status.clientAuth.phase ~= nil then
  phase = " (client authentication: " .. obj.status.clientAuth.phase .. ")"
end
if found.Stalled ~= nil and found.Stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = found.Stalled.message
elseif found.Reconciling ~= nil and found.Reconciling.status == "True" then
  hs.message = found.Reconciling.message .. phase
elseif found.Ready ~= nil and found.Ready.status == "True" then
  hs.status = "Healthy"
  hs.message = found.Ready.message .. phase
elseif found.Ready ~= nil then
  hs.message = found.Ready.message
end
return hs
