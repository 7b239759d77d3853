// A Jenkins pipeline stand-in for the shared library in jenkins/: GroovyShell plus recording stubs
// for the pipeline steps the library uses. Every call is recorded; `sh` is run for real (/bin/sh in
// the workspace, with the withEnv/withCredentials environment) and must never get a GString.
//
//   groovy harness.groovy VARS_DIR WORKSPACE PIPELINE_SCRIPT CREDENTIALS_JSON BUNDLE RESULT_JSON
//
// CREDENTIALS_JSON: {"id": {"username": "...", "password": "..."} | {"file": "content"} | {"text": "..."}}
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

class PipelineError extends RuntimeException {
    PipelineError(String m) { super(m) }
}

String varsDir = args[0]
File workspace = new File(args[1])
// A Jenkinsfile's @Library line loads this library: here it is already loaded.
String pipeline = new File(args[2]).text.replaceAll(/(?m)^@Library\(.*\)\s*_\s*$/, '')
Map credentialStore = new JsonSlurper().parse(new File(args[3])) as Map
File bundle = new File(args[4])
File resultFile = new File(args[5])

List calls = []
List violations = []
// The node's environment, as Jenkins' env global starts with.
Map env = new LinkedHashMap(System.getenv())
Binding binding = new Binding()
GroovyShell shell = new GroovyShell(binding)

def record = { String name, Object a ->
    calls << [step: name, args: a]
}
def resolve = { String path -> new File(path).isAbsolute() ? new File(path) : new File(workspace, path) }
def withVars = { Map vars, Closure body ->
    Map saved = new LinkedHashMap(env)
    env.putAll(vars)
    try {
        return body.call()
    } finally {
        env.clear()
        env.putAll(saved)
    }
}

binding.setVariable('env', env)
binding.setVariable('sh', { Map a ->
    Object script = a.script
    record('sh', [script: script.toString(), scriptClass: script.getClass().name, returnStatus: a.returnStatus ?: false])
    if (script instanceof GString) {
        violations << 'sh got a GString: ' + script
    }
    ProcessBuilder pb = new ProcessBuilder(['/bin/sh', '-c', script.toString()])
    pb.directory(workspace)
    pb.environment().putAll(env.collectEntries { k, v -> [(k.toString()): v.toString()] })
    pb.redirectErrorStream(true)
    Process p = pb.start()
    String out = p.inputStream.text
    int status = p.waitFor()
    System.err.print(out)
    calls.last().args.output = out
    calls.last().args.status = status
    if (status != 0 && !a.returnStatus) {
        throw new PipelineError('script returned exit code ' + status)
    }
    return a.returnStatus ? status : null
})
binding.setVariable('withEnv', { List vars, Closure body ->
    record('withEnv', vars.collect { it.toString() } + [vars.collect { it.getClass().name }])
    Map m = vars.collectEntries { String s -> int i = s.indexOf('='); [(s.substring(0, i)): s.substring(i + 1)] }
    return withVars(m, body)
})
binding.setVariable('usernamePassword', { Map a -> [type: 'usernamePassword'] + a })
binding.setVariable('file', { Map a -> [type: 'file'] + a })
binding.setVariable('string', { Map a -> [type: 'string'] + a })
binding.setVariable('withCredentials', { List bindings, Closure body ->
    record('withCredentials', bindings)
    Map vars = [:]
    bindings.each { b ->
        Map c = credentialStore[b.credentialsId] as Map
        if (c == null) {
            throw new PipelineError('Could not find credentials entry with ID \'' + b.credentialsId + '\'')
        }
        if (b.type == 'usernamePassword') {
            vars[b.usernameVariable] = c.username
            vars[b.passwordVariable] = c.password
        } else if (b.type == 'file') {
            File f = File.createTempFile('secret', '.file', workspace)
            f.text = c.file
            vars[b.variable] = f.absolutePath
        } else {
            vars[b.variable] = c.text
        }
    }
    return withVars(vars, body)
})
binding.setVariable('libraryResource', { Map a ->
    record('libraryResource', a)
    if (a.resource != 'airlock/airlock.cjs' || a.encoding != 'Base64') {
        throw new PipelineError('No such library resource ' + a.resource + ' (' + a.encoding + ')')
    }
    return bundle.bytes.encodeBase64().toString()
})
binding.setVariable('writeFile', { Map a ->
    record('writeFile', [file: a.file, encoding: a.encoding, length: a.text.length()])
    File f = resolve(a.file)
    f.parentFile.mkdirs()
    if (a.encoding == 'Base64') {
        f.bytes = a.text.decodeBase64()
    } else {
        f.text = a.text
    }
})
binding.setVariable('readFile', { String path ->
    record('readFile', path)
    return resolve(path).text
})
binding.setVariable('fileExists', { String path ->
    return resolve(path).exists()
})
binding.setVariable('junit', { Map a ->
    record('junit', a)
})
binding.setVariable('archiveArtifacts', { Map a ->
    record('archiveArtifacts', a)
})
binding.setVariable('error', { String message ->
    record('error', [message: message, messageClass: message.getClass().name])
    throw new PipelineError(message)
})
binding.setVariable('echo', { String message ->
    record('echo', message)
})
// Scripted-pipeline blocks (examples/Jenkinsfile): they just run their body.
binding.setVariable('node', { Object... a -> record('node', a.length > 1 ? a[0] : null); a[-1].call() })
binding.setVariable('stage', { String name, Closure body -> record('stage', name); body.call() })
binding.setVariable('checkout', { Object a -> record('checkout', a.toString()) })

// The library's global variables: vars/NAME.groovy, loaded on first use (as Jenkins does).
new File(varsDir).listFiles().findAll { it.name.endsWith('.groovy') }.each { File f ->
    String name = f.name - '.groovy'
    Script script = null
    binding.setVariable(name, { Object... a ->
        if (script == null) {
            script = shell.parse(f)
        }
        return script.invokeMethod('call', a)
    })
}

String failure = null
try {
    shell.evaluate(pipeline)
} catch (PipelineError e) {
    failure = e.message
}
resultFile.text = JsonOutput.toJson([calls: calls, violations: violations, error: failure])
