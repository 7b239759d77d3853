// Runs one Airlock step for the generated steps in this directory (airlockCopy, airlockMirror, ...):
// the pattern of SAP Piper's piperExecuteBin, written by hand once for every step.
//
// - The bundle comes from this library's resources (resources/airlock/airlock.cjs, byte-exact via
//   Base64) and is written into the workspace once.
// - Parameters go to the step as ONE JSON object in AIRLOCK_PARAMS (withEnv), read by the step
//   through its own input definitions: no value is ever put into a shell command line.
// - Credentials are declared as data by each step (`registryCredentials: true` for the registry's
//   user and password) and bound with withCredentials (usernamePassword, file, string); the step
//   reads them from its environment.
// - The sh script is a single-quoted constant: Groovy never interpolates anything into it.
// - JUnit reports are recorded and airlock-reports/ archived when present; a failure stops the
//   build with the step's own one-line message.
import groovy.json.JsonOutput

// The registry's user and password, from a Jenkins usernamePassword credential (registryCredentialsId).
@groovy.transform.Field
static final Map REGISTRY_CREDENTIALS = [
    parameter: 'registryCredentialsId',
    type: 'usernamePassword',
    usernameVariable: 'AIRLOCK_REGISTRY_USER',
    passwordVariable: 'AIRLOCK_REGISTRY_PASSWORD',
]

def call(Map config) {
    String name = config.name
    Map parameters = config.parameters ?: [:]
    // The step's input names (kebab-case, as the CLI has them); each is the camelCase parameter.
    Map inputs = (config.inputs ?: []).collectEntries { String input ->
        [(input.replaceAll(/-([a-z0-9])/) { String all, String c -> c.toUpperCase() }): input]
    }
    Map environment = config.environment ?: [:]
    List credentials = (config.registryCredentials ? [REGISTRY_CREDENTIALS] : []) + (config.credentials ?: [])
    Map reports = config.reports ?: [:]

    Set credentialParameters = credentials.collect { it.parameter } as Set
    Map params = [:]
    List envs = []
    parameters.each { key, value ->
        String k = key
        if (credentialParameters.contains(k)) {
            return
        }
        if (environment.containsKey(k)) {
            envs << (environment[k] + '=' + value.toString())
            return
        }
        if (!inputs.containsKey(k)) {
            Collection known = inputs.keySet() + environment.keySet() + credentialParameters
            error(name + ': unknown parameter ' + k + ' (parameters: ' + known.join(', ') + ')')
        }
        params[inputs[k]] = value
    }
    reports.each { input, file ->
        if (!params.containsKey(input)) {
            params[input] = file
        }
    }

    String bundle = '.airlock/airlock.cjs'
    if (!fileExists(bundle)) {
        String base64 = libraryResource(resource: 'airlock/airlock.cjs', encoding: 'Base64')
        writeFile(file: bundle, text: base64, encoding: 'Base64')
    }

    List bindings = []
    List fileInputs = []
    credentials.each { c ->
        String id = parameters[c.parameter]
        if (!id) {
            return
        }
        if (c.type == 'usernamePassword') {
            bindings << usernamePassword(credentialsId: id,
                usernameVariable: c.usernameVariable, passwordVariable: c.passwordVariable)
        } else if (c.type == 'file') {
            bindings << file(credentialsId: id, variable: c.variable)
            fileInputs << c
        } else {
            bindings << string(credentialsId: id, variable: c.variable)
        }
    }

    int status = 0
    withCredentials(bindings) {
        // A file credential's path is known only now; it is a path, not a secret.
        fileInputs.each { c -> params[c.input] = env[c.variable] }
        List stepEnv = envs + [
            'AIRLOCK_BUNDLE=' + bundle,
            'AIRLOCK_STEP=' + config.step,
            'AIRLOCK_PARAMS=' + JsonOutput.toJson(params),
            'AIRLOCK_LOG=.airlock/' + name + '.log',
        ]
        withEnv(stepEnv) {
            status = sh(returnStatus: true, script: '''
                set +x
                mkdir -p .airlock
                {
                    node "$AIRLOCK_BUNDLE" $AIRLOCK_STEP --inputs-from-env 2>&1
                    echo $? > "$AIRLOCK_LOG.status"
                } | tee "$AIRLOCK_LOG"
                exit "$(cat "$AIRLOCK_LOG.status")"
            ''')
        }
    }

    if (params.junit && fileExists(params.junit.toString())) {
        junit(testResults: params.junit.toString(), allowEmptyResults: true)
    }
    List artifacts = reports.keySet()
        .collect { input -> params[input]?.toString() }
        .findAll { path -> path && fileExists(path) }
    if (artifacts) {
        archiveArtifacts(artifacts: artifacts.join(','), allowEmptyArchive: true)
    }
    if (status != 0) {
        String log = fileExists('.airlock/' + name + '.log') ? readFile('.airlock/' + name + '.log') : ''
        error(name + ': ' + failureLine(log, status, config.step))
    }
}

/** The step's one line: its "error:" line, else its failure summary and first failure, else the exit code. */
String failureLine(String log, int status, String step) {
    List lines = log.readLines().collect { it.replaceAll(/\s+$/, '') }.findAll { it }
    String errorLine = lines.find { it.startsWith('error: ') }
    if (errorLine) {
        return errorLine.substring('error: '.length())
    }
    int at = lines.findLastIndexOf { it =~ /^\S.*\bfailed\b/ }
    if (at < 0) {
        return 'airlock ' + step + ' failed (exit code ' + status + ')'
    }
    String first = at + 1 < lines.size() ? lines[at + 1].trim().replaceFirst(/^✘\s*/, '') : ''
    return 'airlock ' + step + ': ' + lines[at].replaceAll(/:$/, '') + (first ? ': ' + first : '')
}
