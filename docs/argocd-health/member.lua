-- Argo CD health check for picotls.dev/ExecutionContainer and picotls.dev/DesktopClient
-- (resource.customizations.health.picotls.dev_ExecutionContainer and ..._DesktopClient: the same
-- script). Stalled=True -> Degraded (the message says what to fix), Reconciling=True ->
-- Progressing, Ready=True -> Healthy (an ExecutionContainer's Deployment runs its current TLS
-- configuration; a DesktopClient's key is trusted by the running Platform).
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for the operator to act on the latest spec"
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Stalled" and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = condition.message
    return hs
  end
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Reconciling" and condition.status == "True" then
    hs.message = condition.message
    return hs
  end
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    hs.message = condition.message
    if condition.status == "True" then
      hs.status = "Healthy"
    end
  end
end
return hs
